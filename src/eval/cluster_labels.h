// cluster_labels.h: what the clustering methods and metrics share about labels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace face {

// ensures: the same partition, labels renumbered 0, 1, ... in order of first appearance, so a
// result does not depend on a method's internal numbering.
std::vector<int64_t> relabel_by_first_appearance(const std::vector<int64_t>& labels);

// The number of distinct labels.
int64_t count_clusters(const std::vector<int64_t>& labels);

// The clusters as lists of item indices: largest first (ties in order of first appearance), each
// list in item order.
std::vector<std::vector<int64_t>> clusters_by_size(const std::vector<int64_t>& labels);

}  // namespace face
