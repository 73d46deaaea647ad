#include "eval/cluster_labels.h"

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

}  // namespace face
