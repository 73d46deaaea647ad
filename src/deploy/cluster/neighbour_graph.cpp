#include "deploy/cluster/neighbour_graph.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "deploy/gallery/search_index.h"
#include "util/error.h"

namespace face {

namespace {

constexpr int64_t kFlatLimit = 50000;  // auto: exact below, IVF above
constexpr int64_t kBlock = 4096;       // rows searched per call: bounds the distance block's memory

std::unique_ptr<SearchIndex> make_graph_index(const std::string& kind, int64_t rows, const NeighbourGraphOptions& o) {
  std::string chosen = kind == "auto" ? (rows > kFlatLimit ? "ivf" : "flat") : kind;
  if (chosen == "flat") return make_exact_index(torch::kCPU);  // the tiled exact scan (gallery/flat_scan.h)
  if (chosen == "ivf") {
    FaissOptions f;
    f.nprobe = o.nprobe;
    f.seed = o.seed;
    return make_faiss_index(f);  // face::Error without FAISS
  }
  fail("unknown neighbour index '{}' (known: auto, flat, ivf)", kind);
}

}  // namespace

NeighbourGraph graph_from_edges(int64_t nodes, std::vector<GraphEdge> edges) {
  for (auto& e : edges) {
    if (e.a < 0 || e.b < 0 || e.a >= nodes || e.b >= nodes || e.a == e.b)
      fail("graph edge ({}, {}) is not between two distinct nodes of {}", e.a, e.b, nodes);
    if (e.a > e.b) std::swap(e.a, e.b);
  }
  std::stable_sort(edges.begin(), edges.end(),
                   [](const GraphEdge& x, const GraphEdge& y) { return x.a != y.a ? x.a < y.a : x.b < y.b; });
  edges.erase(std::unique(edges.begin(), edges.end(),
                          [](const GraphEdge& x, const GraphEdge& y) { return x.a == y.a && x.b == y.b; }),
              edges.end());
  return {nodes, std::move(edges)};
}

NeighbourGraph build_neighbour_graph(const torch::Tensor& embeddings, const NeighbourGraphOptions& options,
                                     std::string* index_used, Progress* progress) {
  if (embeddings.dim() != 2) fail("neighbour graph: embeddings must be a matrix (N, D), got {} dimensions", embeddings.dim());
  if (options.neighbours < 1) fail("neighbour graph: --neighbours must be at least 1, got {}", options.neighbours);
  if (options.nprobe < 1) fail("neighbour graph: --nprobe must be at least 1, got {}", options.nprobe);
  torch::NoGradGuard no_grad;
  auto rows = embeddings.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t n = rows.size(0);
  auto index = make_graph_index(options.index, n, options);
  if (index_used) *index_used = index->name();
  if (n < 2) return {n, {}};
  index->build(rows);
  if (index_used) *index_used = index->name();
  // One more than k: a row finds itself (or a duplicate of itself) among its nearest.
  const int64_t k = std::min(options.neighbours + 1, n);
  std::vector<GraphEdge> edges;
  edges.reserve(static_cast<size_t>(n * options.neighbours));
  for (int64_t start = 0; start < n; start += kBlock) {
    int64_t count = std::min(kBlock, n - start);
    RowHits hits = index->search(rows.slice(0, start, start + count), k);
    auto dist = hits.distances.accessor<float, 2>();
    auto row = hits.rows.accessor<int64_t, 2>();
    for (int64_t q = 0; q < count; ++q) {
      int64_t self = start + q, taken = 0;
      for (int64_t j = 0; j < k && taken < options.neighbours; ++j) {
        int64_t other = row[q][j];
        if (other < 0 || other == self) continue;
        ++taken;
        double d = std::max(0.0f, dist[q][j]);  // FAISS's expanded form can dip below 0
        if (d < options.max_distance) edges.push_back({std::min(self, other), std::max(self, other), d});
      }
    }
    if (progress) progress->advance(count);
  }
  return graph_from_edges(n, std::move(edges));
}

}  // namespace face
