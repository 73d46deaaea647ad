// search_index.h: nearest gallery rows to a query embedding, by squared L2 distance.
//
//   exact       every row scored. On the CPU a tiled scan over LibTorch's intra-op threads with a
//               running top-k per query (flat_scan.h); on a GPU one matrix product and a topk.
//               The default; exact at any size.
//   exact-fp16  the same CPU scan over an fp16 copy of the rows (half the bytes read), re-ranked
//               in fp32 within a proven bound of fp16's rounding: returns what `exact` returns
//               (ties aside), faster where the scan is memory-bound; 1.5x the memory. CPU only.
//   faiss, ivf  FAISS IndexIVFFlat (inverted lists over k-means cells, probing `nprobe` of them):
//               approximate; recall against exact search is measured by bench_gallery.
//   hnsw        FAISS IndexHNSWFlat (a navigable small-world graph, M links a node, efSearch
//               candidates a query): approximate, faster and of higher recall than IVF at equal
//               time, but slow to build (minutes per million rows on 2 cores).
//   exact-torch one LibTorch matrix product and topk, on any device (the old CPU path; a reference).
//   The FAISS kinds exist only when built with FACE_WITH_FAISS (faiss_available()).
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
  // Bytes the built index holds for searching (rows, codes, links, norms); 0 before build.
  virtual int64_t bytes() const = 0;
  // Approximate kinds: sets how hard later searches look (IVF: cells probed; HNSW: efSearch),
  // without a rebuild; returns false for kinds that have no such knob. Requires effort >= 1.
  virtual bool set_search_effort(int64_t effort) { return false; }
};

// On the CPU the scan of flat_scan.h (`half`: exact-fp16; face::Error for `half` on another
// device); elsewhere the matrix product of make_torch_exact_index.
std::unique_ptr<SearchIndex> make_exact_index(const torch::Device& device = torch::kCPU, bool half = false);
// One LibTorch matrix product and topk on `device` (CPU or GPU): the reference the scan is
// checked against, and the GPU path.
std::unique_ptr<SearchIndex> make_torch_exact_index(const torch::Device& device);

struct FaissOptions {
  int64_t nlist = 0;   // IVF: k-means cells; 0 = about sqrt(N), between 16 and 4096
  int64_t nprobe = 16; // IVF: cells visited per query
  uint64_t seed = 0;   // IVF: k-means seed
  int64_t training_rows = 0;  // IVF: rows sampled to train k-means; 0 = 40 per cell
  int64_t hnsw_m = 32;        // HNSW: links per node (memory: 2 M ints a row at the base level)
  int64_t ef_construction = 40;  // HNSW: candidates kept while inserting (build time vs graph quality)
  int64_t ef_search = 64;     // HNSW: candidates kept per query (raised to k when k is larger)
};
bool faiss_available();
// face::Error when the program was built without FAISS.
std::unique_ptr<SearchIndex> make_faiss_index(const FaissOptions& options = {});
std::unique_ptr<SearchIndex> make_hnsw_index(const FaissOptions& options = {});

// The names make_index knows, in the order shown to users.
const std::vector<std::string>& index_kinds();
// Index by name (index_kinds()); face::Error naming the known kinds for any other.
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
