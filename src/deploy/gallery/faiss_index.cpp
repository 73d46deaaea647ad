// faiss_index.cpp: the approximate SearchIndex kinds (search_index.h), over FAISS.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#ifdef FACE_WITH_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#endif

#include "deploy/gallery/search_index.h"
#include "util/error.h"

namespace face {

#ifdef FACE_WITH_FAISS
namespace {

torch::Tensor cpu_rows(const torch::Tensor& embeddings) {
  if (embeddings.dim() != 2 || embeddings.size(1) < 1)
    fail("gallery rows must be a matrix (N, D) with D >= 1, got shape {}", c10::str(embeddings.sizes()));
  return embeddings.to(torch::kCPU, torch::kFloat32).contiguous();
}

RowHits empty_hits(int64_t q, int64_t k) {
  return {torch::full({q, k}, INFINITY), torch::full({q, k}, -1, torch::kInt64)};
}

class FaissIvfIndex : public SearchIndex {
 public:
  explicit FaissIvfIndex(FaissOptions options) : options_(options) {}
  void build(const torch::Tensor& embeddings) override {
    auto rows = cpu_rows(embeddings);
    int64_t n = rows.size(0), d = rows.size(1);
    int64_t nlist = options_.nlist > 0 ? options_.nlist
                                       : std::clamp<int64_t>(std::llround(std::sqrt(double(n))), 16, 4096);
    nlist = std::max<int64_t>(1, std::min(nlist, n));
    quantizer_ = std::make_unique<faiss::IndexFlatL2>(d);
    index_ = std::make_unique<faiss::IndexIVFFlat>(quantizer_.get(), d, nlist, faiss::METRIC_L2);
    index_->cp.seed = static_cast<int>(options_.seed);
    int64_t train = options_.training_rows > 0 ? options_.training_rows : 40 * nlist;
    torch::Tensor sample = rows;
    if (train < n) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(options_.seed);
      sample = rows.index_select(0, torch::randperm(n, gen, torch::kInt64).slice(0, 0, train)).contiguous();
    }
    index_->train(sample.size(0), sample.data_ptr<float>());
    index_->add(n, rows.data_ptr<float>());
    index_->nprobe = static_cast<size_t>(std::min(options_.nprobe, nlist));
  }
  RowHits search(const torch::Tensor& queries, int64_t k) const override {
    if (!index_) fail("faiss index searched before build");
    auto q = queries.to(torch::kCPU, torch::kFloat32).contiguous();
    RowHits hits = empty_hits(q.size(0), k);
    index_->search(q.size(0), q.data_ptr<float>(), k, hits.distances.data_ptr<float>(),
                   reinterpret_cast<faiss::Index::idx_t*>(hits.rows.data_ptr<int64_t>()));
    hits.distances.masked_fill_(hits.rows < 0, INFINITY);
    return hits;
  }
  bool set_search_effort(int64_t effort) override {
    if (effort < 1) fail("IVF cells to probe must be >= 1, got {}", effort);
    options_.nprobe = effort;
    if (index_) index_->nprobe = static_cast<size_t>(std::min<int64_t>(effort, index_->nlist));
    return true;
  }
  std::string name() const override {
    return fmt::format("faiss IVF{},Flat nprobe {}", index_ ? index_->nlist : 0, index_ ? index_->nprobe : 0);
  }
  int64_t bytes() const override {
    if (!index_) return 0;
    int64_t b = quantizer_->ntotal * quantizer_->d * static_cast<int64_t>(sizeof(float));
    for (size_t l = 0; l < index_->nlist; ++l)
      b += static_cast<int64_t>(index_->invlists->list_size(l) * (index_->code_size + sizeof(faiss::Index::idx_t)));
    return b;
  }

 private:
  FaissOptions options_;
  std::unique_ptr<faiss::IndexFlatL2> quantizer_;
  std::unique_ptr<faiss::IndexIVFFlat> index_;
};

class FaissHnswIndex : public SearchIndex {
 public:
  explicit FaissHnswIndex(FaissOptions options) : options_(options) {}
  void build(const torch::Tensor& embeddings) override {
    auto rows = cpu_rows(embeddings);
    index_ = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(rows.size(1)), static_cast<int>(options_.hnsw_m));
    index_->hnsw.efConstruction = static_cast<int>(options_.ef_construction);
    index_->hnsw.efSearch = static_cast<int>(options_.ef_search);
    index_->add(rows.size(0), rows.data_ptr<float>());
  }
  RowHits search(const torch::Tensor& queries, int64_t k) const override {
    if (!index_) fail("hnsw index searched before build");
    auto q = queries.to(torch::kCPU, torch::kFloat32).contiguous();
    RowHits hits = empty_hits(q.size(0), k);
    if (index_->ntotal == 0) return hits;
    faiss::SearchParametersHNSW params;
    // FAISS before 1.8 (Debian's) reads efSearch from the index, not from params (faiss PR #3233),
    // so set_search_effort() sets both: these params for a FAISS that reads them.
    params.efSearch = static_cast<int>(std::max(options_.ef_search, k));  // fewer than k candidates cannot fill k
    index_->search(q.size(0), q.data_ptr<float>(), k, hits.distances.data_ptr<float>(),
                   reinterpret_cast<faiss::Index::idx_t*>(hits.rows.data_ptr<int64_t>()), &params);
    hits.distances.masked_fill_(hits.rows < 0, INFINITY);
    return hits;
  }
  bool set_search_effort(int64_t effort) override {
    if (effort < 1) fail("HNSW efSearch must be >= 1, got {}", effort);
    options_.ef_search = effort;
    if (index_) index_->hnsw.efSearch = static_cast<int>(effort);
    return true;
  }
  std::string name() const override {
    return fmt::format("faiss HNSW{},Flat efC {} efSearch {}", options_.hnsw_m, options_.ef_construction,
                       options_.ef_search);
  }
  int64_t bytes() const override {
    if (!index_) return 0;
    const auto& h = index_->hnsw;
    return index_->ntotal * index_->d * static_cast<int64_t>(sizeof(float)) +
           static_cast<int64_t>(h.neighbors.size() * sizeof(h.neighbors[0]) + h.levels.size() * sizeof(h.levels[0]) +
                                h.offsets.size() * sizeof(h.offsets[0]));
  }

 private:
  FaissOptions options_;
  std::unique_ptr<faiss::IndexHNSWFlat> index_;
};

}  // namespace
#endif

bool faiss_available() {
#ifdef FACE_WITH_FAISS
  return true;
#else
  return false;
#endif
}

#ifndef FACE_WITH_FAISS
namespace {
[[noreturn]] void no_faiss(const char* kind) {
  fail("this build has no FAISS, so no '{}' index (configure with -DFACE_WITH_FAISS=ON and libfaiss-dev installed)", kind);
}
}  // namespace
#endif

std::unique_ptr<SearchIndex> make_faiss_index(const FaissOptions& options) {
#ifdef FACE_WITH_FAISS
  return std::make_unique<FaissIvfIndex>(options);
#else
  no_faiss("ivf");
#endif
}

std::unique_ptr<SearchIndex> make_hnsw_index(const FaissOptions& options) {
  if (options.hnsw_m < 2 || options.hnsw_m > 512) fail("hnsw links per node {} is outside 2..512", options.hnsw_m);
  if (options.ef_construction < 1 || options.ef_search < 1)
    fail("hnsw efConstruction {} and efSearch {} must be >= 1", options.ef_construction, options.ef_search);
#ifdef FACE_WITH_FAISS
  return std::make_unique<FaissHnswIndex>(options);
#else
  no_faiss("hnsw");
#endif
}

}  // namespace face
