#include "deploy/gallery/search_index.h"

#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <unordered_set>

#include "util/error.h"

namespace face {

const std::vector<std::string>& index_kinds() {
  static const std::vector<std::string> kinds = {"exact", "exact-fp16", "exact-torch", "faiss", "ivf", "hnsw"};
  return kinds;
}

std::unique_ptr<SearchIndex> make_index(const std::string& kind, const torch::Device& device, const FaissOptions& faiss) {
  if (kind == "exact") return make_exact_index(device);
  if (kind == "exact-fp16") return make_exact_index(device, /*half=*/true);
  if (kind == "exact-torch") return make_torch_exact_index(device);
  if (kind == "faiss" || kind == "ivf") return make_faiss_index(faiss);
  if (kind == "hnsw") return make_hnsw_index(faiss);
  fail("unknown index '{}' (known: {})", kind, fmt::format("{}", fmt::join(index_kinds(), ", ")));
}

std::vector<std::vector<PersonMatch>> rank_people(const SearchIndex& index, const torch::Tensor& queries,
                                                  const torch::Tensor& person_of_row, int64_t rows_total,
                                                  int64_t max_images_per_person, int64_t top_k) {
  int64_t k_rows = std::min(rows_total, top_k * std::max<int64_t>(1, max_images_per_person));
  std::vector<std::vector<PersonMatch>> ranked(queries.size(0));
  if (k_rows == 0) return ranked;
  RowHits hits = index.search(queries, k_rows);
  auto dist = hits.distances.accessor<float, 2>();
  auto rows = hits.rows.accessor<int64_t, 2>();
  auto owner = person_of_row.accessor<int64_t, 1>();
  for (int64_t q = 0; q < queries.size(0); ++q) {
    std::unordered_set<int64_t> seen;
    for (int64_t j = 0; j < k_rows && static_cast<int64_t>(ranked[q].size()) < top_k; ++j) {
      if (rows[q][j] < 0) break;
      int64_t person = owner[rows[q][j]];
      if (seen.insert(person).second) ranked[q].push_back({person, dist[q][j]});  // rows come nearest first
    }
  }
  return ranked;
}

}  // namespace face
