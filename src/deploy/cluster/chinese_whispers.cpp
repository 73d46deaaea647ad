#include "deploy/cluster/chinese_whispers.h"

#include <dlib/clustering/chinese_whispers.h>

#include <string>

#include "eval/cluster_labels.h"
#include "util/error.h"

namespace face {

std::vector<int64_t> chinese_whispers(const NeighbourGraph& graph, const ChineseWhispersOptions& options) {
  if (options.iterations < 1) fail("chinese whispers: --iterations must be at least 1, got {}", options.iterations);
  if (graph.nodes == 0) return {};
  std::vector<dlib::sample_pair> edges;
  edges.reserve(graph.edges.size() + static_cast<size_t>(graph.nodes));
  for (int64_t i = 0; i < graph.nodes; ++i) edges.emplace_back(i, i, 1.0);
  for (const auto& e : graph.edges)
    if (e.distance < options.threshold) edges.emplace_back(e.a, e.b, 1.0);
  std::vector<unsigned long> labels;
  dlib::rand rnd;
  rnd.set_seed(std::to_string(options.seed));
  dlib::chinese_whispers(edges, labels, static_cast<unsigned long>(options.iterations), rnd);
  return relabel_by_first_appearance(std::vector<int64_t>(labels.begin(), labels.end()));
}

}  // namespace face
