#include "deploy/cluster/cluster_method.h"

#include "deploy/cluster/average_linkage.h"
#include "util/error.h"

namespace face {

ClusterMethod parse_cluster_method(const std::string& name) {
  if (name == "chinese-whispers") return ClusterMethod::chinese_whispers;
  if (name == "agglomerative") return ClusterMethod::agglomerative;
  fail("unknown clustering method '{}' (known: chinese-whispers, agglomerative)", name);
}

std::string to_string(ClusterMethod method) {
  return method == ClusterMethod::agglomerative ? "agglomerative" : "chinese-whispers";
}

std::vector<int64_t> cluster_graph(const NeighbourGraph& graph, ClusterMethod method,
                                   const ChineseWhispersOptions& options) {
  if (method == ClusterMethod::agglomerative) return average_linkage(graph, options.threshold);
  return chinese_whispers(graph, options);
}

}  // namespace face
