// cluster_method.h: a neighbour graph -> one label per face, by the method the user named: the
// one step the cluster tool (apps/deploy/cluster.cpp) and serve's POST /v1/cluster share.
//
//   chinese-whispers  chinese_whispers.h: dlib's, over the edges shorter than the threshold
//   agglomerative     average_linkage.h: merge while the closest clusters are nearer than it
//
// Both cut at one squared-L2 threshold: the model's verification threshold unless the user
// gives another, so "one cluster" means what "same person" means in verify.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "deploy/cluster/chinese_whispers.h"
#include "deploy/cluster/neighbour_graph.h"

namespace face {

enum class ClusterMethod { chinese_whispers, agglomerative };

// "chinese-whispers" or "agglomerative"; face::Error naming the value and the known names otherwise.
ClusterMethod parse_cluster_method(const std::string& name);
std::string to_string(ClusterMethod method);

// ensures: one label per graph node, 0 .. clusters-1, numbered by first appearance in node order.
// `options.threshold` is the cut for both methods; iterations and seed are Chinese whispers' own.
std::vector<int64_t> cluster_graph(const NeighbourGraph& graph, ClusterMethod method,
                                   const ChineseWhispersOptions& options);

}  // namespace face
