#include "deploy/gallery/searcher.h"

#include <algorithm>

namespace face {

Searcher::Searcher(Gallery& gallery, std::unique_ptr<SearchIndex> index)
    : contents_(gallery.load()), index_(std::move(index)) {
  if (rows() > 0) index_->build(contents_.embeddings);
  for (int64_t n : contents_.images_per_person) max_images_ = std::max(max_images_, n);
}

std::vector<Identification> Searcher::identify(const torch::Tensor& embeddings, int64_t top_k, double threshold) const {
  auto ranked = rank_people(*index_, embeddings, contents_.person_of_row, rows(), max_images_, top_k);
  std::vector<Identification> out(ranked.size());
  for (size_t q = 0; q < ranked.size(); ++q) {
    for (const auto& m : ranked[q]) out[q].candidates.push_back({contents_.names[m.person], m.distance});
    out[q].known = !out[q].candidates.empty() && out[q].candidates[0].distance < threshold;
  }
  return out;
}

}  // namespace face
