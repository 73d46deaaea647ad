// searcher.h: 1:K identification against a loaded gallery.
//
// A Searcher snapshots the gallery (Gallery::load, one read transaction), indexes it and answers
// queries: the top_k nearest people with their distances, and whether the nearest is within the
// threshold (a known person) or not ("unknown", the open-set answer).
#pragma once
#include <string>
#include <vector>

#include "deploy/gallery/gallery.h"
#include "deploy/gallery/search_index.h"

namespace face {

struct Candidate {
  std::string name;
  float distance;  // squared L2 to the person's nearest enrolled image
};

struct Identification {
  std::vector<Candidate> candidates;  // nearest first, at most top_k
  bool known = false;                 // candidates[0].distance < threshold
};

class Searcher {
 public:
  Searcher(Gallery& gallery, std::unique_ptr<SearchIndex> index);
  // One Identification per row of `embeddings` (q, D).
  std::vector<Identification> identify(const torch::Tensor& embeddings, int64_t top_k, double threshold) const;
  int64_t people() const { return static_cast<int64_t>(contents_.names.size()); }
  int64_t rows() const { return contents_.embeddings.size(0); }
  const SearchIndex& index() const { return *index_; }

 private:
  GalleryContents contents_;
  std::unique_ptr<SearchIndex> index_;
  int64_t max_images_ = 1;
};

}  // namespace face
