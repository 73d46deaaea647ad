#include "deploy/cluster/average_linkage.h"

#include <queue>
#include <tuple>
#include <unordered_map>

#include "eval/cluster_labels.h"

namespace face {

std::vector<int64_t> average_linkage(const NeighbourGraph& graph, double threshold) {
  const int64_t n = graph.nodes;
  // Per live cluster (named by one of its nodes): neighbouring cluster -> linkage distance.
  std::vector<std::unordered_map<int64_t, double>> near(n);
  std::vector<int64_t> size(n, 1);
  using Candidate = std::tuple<double, int64_t, int64_t>;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  for (const auto& e : graph.edges) {
    near[e.a][e.b] = e.distance;
    near[e.b][e.a] = e.distance;
    queue.emplace(e.distance, e.a, e.b);
  }
  std::vector<std::vector<int64_t>> members(n);
  for (int64_t i = 0; i < n; ++i) members[i] = {i};
  while (!queue.empty()) {
    auto [d, a, b] = queue.top();
    if (d >= threshold) break;
    queue.pop();
    // Stale entries: a side already merged away, or the pair's distance changed since.
    auto it = near[a].find(b);
    if (members[a].empty() || members[b].empty() || it == near[a].end() || it->second != d) continue;
    // Keep the cluster with more neighbours, fold the other's map into it.
    int64_t keep = near[a].size() >= near[b].size() ? a : b, gone = keep == a ? b : a;
    const double nk = static_cast<double>(size[keep]), ng = static_cast<double>(size[gone]);
    near[keep].erase(gone);
    near[gone].erase(keep);
    for (auto& [c, dk] : near[keep]) {  // neighbours of keep: averaged where gone knows them too
      auto g = near[gone].find(c);
      if (g == near[gone].end()) continue;
      dk = (nk * dk + ng * g->second) / (nk + ng);
      near[gone].erase(g);
      near[c].erase(gone);
      near[c][keep] = dk;
      queue.emplace(dk, std::min(keep, c), std::max(keep, c));
    }
    for (const auto& [c, dg] : near[gone]) {  // neighbours of gone alone: their distance carries over
      near[keep][c] = dg;
      near[c].erase(gone);
      near[c][keep] = dg;
      queue.emplace(dg, std::min(keep, c), std::max(keep, c));
    }
    near[gone].clear();
    size[keep] += size[gone];
    members[keep].insert(members[keep].end(), members[gone].begin(), members[gone].end());
    members[gone].clear();
    members[gone].shrink_to_fit();
  }
  std::vector<int64_t> labels(n);
  for (int64_t c = 0; c < n; ++c)
    for (int64_t node : members[c]) labels[node] = c;
  return relabel_by_first_appearance(labels);
}

}  // namespace face
