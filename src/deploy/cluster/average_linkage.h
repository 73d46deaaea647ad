// average_linkage.h: agglomerative clustering with average linkage, restricted to a neighbour
// graph (neighbour_graph.h), as scikit-learn's AgglomerativeClustering(linkage="average",
// connectivity=graph, distance_threshold=threshold) computes it.
//
// Every node starts as its own cluster; the two clusters joined by the shortest graph distance
// are merged while that distance is below `threshold`. A merged cluster's distance to a
// neighbouring cluster is the size-weighted mean of its two parts' distances to it where both
// are known (both adjacent in the graph), else the one that is: with the full graph that is
// exactly the mean over all cross pairs (UPGMA); with a kNN graph, pairs the graph lacks are left
// out rather than guessed. Means never fall below the distance being merged, so there are no
// inversions and stopping at the threshold is cutting the dendrogram there.
// O(E log E) time and O(E) memory for E edges (a short implementation: no C++ library at hand
// offers average linkage on a sparse graph; dlib's bottom_up_cluster is complete linkage on a
// dense N x N matrix). Tested against scikit-learn (tools/make_clustering_fixture.py).
#pragma once
#include <cstdint>
#include <vector>

#include "deploy/cluster/neighbour_graph.h"

namespace face {

// requires: graph edges as neighbour_graph.h ensures (graph_from_edges). ensures: one label per
// node, 0 .. clusters-1, numbered by first appearance in node order.
std::vector<int64_t> average_linkage(const NeighbourGraph& graph, double threshold);

}  // namespace face
