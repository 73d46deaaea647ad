// chinese_whispers.h: graph clustering by Chinese whispers (Biemann 2006), through dlib's
// implementation (dlib::chinese_whispers), as dlib's dnn_face_recognition_ex.cpp clusters faces.
//
// Nodes are joined wherever the graph has an edge shorter than `threshold` (squared L2: the
// model's verification threshold, below which two faces are the same person), each edge of
// weight 1 as in dlib's example, plus a self-loop per node (the example's j = i), so that every
// node, isolated or not, gets a label. Each pass visits the nodes in random order and gives each
// the label most common among its neighbours; `iterations` passes. Cheap (O(edges) per pass),
// no number of clusters to choose; a long chain of near pairs can merge two people.
#pragma once
#include <cstdint>
#include <vector>

#include "deploy/cluster/neighbour_graph.h"

namespace face {

struct ChineseWhispersOptions {
  double threshold = 0;    // edges at or beyond it are ignored
  int iterations = 100;    // dlib's default
  uint64_t seed = 0;       // the visiting order (dlib::rand)
};

// requires: iterations >= 1 (face::Error otherwise).
// ensures: one label per node, 0 .. clusters-1, numbered by first appearance in node order, so
// the same graph and seed give the same labels.
std::vector<int64_t> chinese_whispers(const NeighbourGraph& graph, const ChineseWhispersOptions& options);

}  // namespace face
