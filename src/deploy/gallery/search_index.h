// search_index.h: nearest gallery rows to a query embedding, by squared L2 distance.
//
//   exact   brute force with LibTorch on the CPU or a GPU: one matrix product per query batch.
//           The default; exact at any size.
//   faiss   FAISS IndexIVFFlat (inverted lists over k-means cells, probing `nprobe` of them):
//           approximate, for large galleries; its recall against exact search is measured by
//           bench_gallery. Only when built with FACE_WITH_FAISS (faiss_available()).
//
// rank_people turns row hits into people: a person's distance is that of their nearest image.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace face {

struct RowHits {
  torch::Tensor distances;  // float (q, k), ascending per row
  torch::Tensor rows;       // int64 (q, k); -1 where fewer than k rows exist
};

class SearchIndex {
 public:
  virtual ~SearchIndex() = default;
  // Replaces the indexed rows with `embeddings` (N, D) float.
  virtual void build(const torch::Tensor& embeddings) = 0;
  virtual RowHits search(const torch::Tensor& queries, int64_t k) const = 0;
  virtual std::string name() const = 0;
};

std::unique_ptr<SearchIndex> make_exact_index(const torch::Device& device = torch::kCPU);

struct FaissOptions {
  int64_t nlist = 0;   // k-means cells; 0 = about sqrt(N), between 16 and 4096
  int64_t nprobe = 16; // cells visited per query
  uint64_t seed = 0;   // k-means seed
  int64_t training_rows = 0;  // rows sampled to train k-means; 0 = 40 per cell
};
bool faiss_available();
// face::Error when the program was built without FAISS.
std::unique_ptr<SearchIndex> make_faiss_index(const FaissOptions& options = {});

// Index by name: "exact" or "faiss".
std::unique_ptr<SearchIndex> make_index(const std::string& kind, const torch::Device& device,
                                        const FaissOptions& faiss = {});

struct PersonMatch {
  int64_t person;   // index into GalleryContents::names
  float distance;   // to the person's nearest image
};

// The `top_k` nearest people for each query. `max_images_per_person` rows per wanted person are
// searched, which makes the ranking exact for an exact index.
std::vector<std::vector<PersonMatch>> rank_people(const SearchIndex& index, const torch::Tensor& queries,
                                                  const torch::Tensor& person_of_row, int64_t rows_total,
                                                  int64_t max_images_per_person, int64_t top_k);

}  // namespace face
