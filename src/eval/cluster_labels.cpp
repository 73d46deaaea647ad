#include "eval/cluster_labels.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace face {

std::vector<int64_t> relabel_by_first_appearance(const std::vector<int64_t>& labels) {
  std::unordered_map<int64_t, int64_t> id;
  std::vector<int64_t> out(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) out[i] = id.emplace(labels[i], static_cast<int64_t>(id.size())).first->second;
  return out;
}

int64_t count_clusters(const std::vector<int64_t>& labels) {
  return static_cast<int64_t>(std::unordered_set<int64_t>(labels.begin(), labels.end()).size());
}

std::vector<std::vector<int64_t>> clusters_by_size(const std::vector<int64_t>& labels) {
  std::vector<std::vector<int64_t>> order;
  const std::vector<int64_t> first = relabel_by_first_appearance(labels);
  for (size_t i = 0; i < first.size(); ++i) {
    if (first[i] == static_cast<int64_t>(order.size())) order.emplace_back();
    order[first[i]].push_back(static_cast<int64_t>(i));
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  return order;
}

}  // namespace face
