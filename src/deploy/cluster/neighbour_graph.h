// neighbour_graph.h: the k-nearest-neighbour graph of a set of embeddings, which both clustering
// methods (chinese_whispers.h, average_linkage.h) run on instead of all N^2 pairs.
//
// Each row is joined to its k nearest other rows by squared L2 distance; the graph is undirected
// (an edge when either end has the other among its k), so a node can have more than k edges.
// Found by the gallery's search indexes (gallery/search_index.h):
//   flat   the exact tiled scan (gallery/flat_scan.h), per block of rows (O(N^2 D) work, O(N k) memory)
//   ivf    FAISS's IndexIVFFlat (gallery/search_index.h's make_faiss_index): k-means cells, `nprobe`
//          visited per row; approximate, for collections of hundreds of thousands and more
//   auto   flat up to 50,000 rows, ivf above
// Without FAISS (Debian libfaiss-dev) ivf is an error.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "util/progress.h"

namespace face {

struct GraphEdge {
  int64_t a, b;     // a < b
  double distance;  // squared L2
};

struct NeighbourGraph {
  int64_t nodes = 0;
  std::vector<GraphEdge> edges;  // sorted by (a, b), no duplicates, no self-loops
};

struct NeighbourGraphOptions {
  int64_t neighbours = 20;  // k, itself excluded
  double max_distance = std::numeric_limits<double>::infinity();  // edges at or beyond it are dropped
  std::string index = "auto";  // flat, ivf or auto
  int64_t nprobe = 16;         // ivf: cells visited per row
  uint64_t seed = 0;           // ivf: k-means seed
};

// requires: embeddings float (N, D), N >= 0; options.neighbours >= 1 (face::Error otherwise,
// naming the option). ensures: the graph above; `index_used` (optional) names the index.
// `progress` (optional) advances once per row searched.
NeighbourGraph build_neighbour_graph(const torch::Tensor& embeddings, const NeighbourGraphOptions& options,
                                     std::string* index_used = nullptr, Progress* progress = nullptr);

// The graph from explicit edges (tests, callers with their own distances): each pair once, a < b.
// requires: 0 <= a, b < nodes and a != b (face::Error otherwise). Duplicates keep the first distance.
NeighbourGraph graph_from_edges(int64_t nodes, std::vector<GraphEdge> edges);

}  // namespace face
