#include "deploy/gallery/search_index.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#ifdef FACE_WITH_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#endif

#include "util/error.h"

namespace face {

namespace {

class ExactIndex : public SearchIndex {
 public:
  explicit ExactIndex(torch::Device device) : device_(device) {}
  void build(const torch::Tensor& embeddings) override {
    rows_ = embeddings.to(device_, torch::kFloat32).contiguous();
    norms_ = rows_.pow(2).sum(1);
  }
  RowHits search(const torch::Tensor& queries, int64_t k) const override {
    torch::NoGradGuard no_grad;
    auto q = queries.to(device_, torch::kFloat32);
    int64_t n = rows_.defined() ? rows_.size(0) : 0, take = std::min(k, n);
    RowHits hits{torch::full({q.size(0), k}, INFINITY), torch::full({q.size(0), k}, -1, torch::kInt64)};
    if (take == 0) return hits;
    // |q - g|^2 = |q|^2 + |g|^2 - 2 q.g, one matrix product for the whole batch.
    auto d = (q.pow(2).sum(1, true) + norms_.unsqueeze(0) - 2 * q.matmul(rows_.t())).clamp_min_(0);
    auto [values, index] = d.topk(take, 1, /*largest=*/false, /*sorted=*/true);
    hits.distances.slice(1, 0, take).copy_(values.cpu());
    hits.rows.slice(1, 0, take).copy_(index.cpu());
    return hits;
  }
  std::string name() const override { return "exact (" + device_.str() + ")"; }

 private:
  torch::Device device_;
  torch::Tensor rows_, norms_;
};

#ifdef FACE_WITH_FAISS
class FaissIvfIndex : public SearchIndex {
 public:
  explicit FaissIvfIndex(FaissOptions options) : options_(options) {}
  void build(const torch::Tensor& embeddings) override {
    auto rows = embeddings.to(torch::kCPU, torch::kFloat32).contiguous();
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
    RowHits hits{torch::empty({q.size(0), k}), torch::empty({q.size(0), k}, torch::kInt64)};
    index_->search(q.size(0), q.data_ptr<float>(), k, hits.distances.data_ptr<float>(),
                   reinterpret_cast<faiss::Index::idx_t*>(hits.rows.data_ptr<int64_t>()));
    hits.distances.masked_fill_(hits.rows < 0, INFINITY);
    return hits;
  }
  std::string name() const override {
    return fmt::format("faiss IVF{},Flat nprobe {}", index_ ? index_->nlist : 0, index_ ? index_->nprobe : 0);
  }

 private:
  FaissOptions options_;
  std::unique_ptr<faiss::IndexFlatL2> quantizer_;
  std::unique_ptr<faiss::IndexIVFFlat> index_;
};
#endif

}  // namespace

std::unique_ptr<SearchIndex> make_exact_index(const torch::Device& device) { return std::make_unique<ExactIndex>(device); }

bool faiss_available() {
#ifdef FACE_WITH_FAISS
  return true;
#else
  return false;
#endif
}

std::unique_ptr<SearchIndex> make_faiss_index(const FaissOptions& options) {
#ifdef FACE_WITH_FAISS
  return std::make_unique<FaissIvfIndex>(options);
#else
  fail("this build has no FAISS (configure with -DFACE_WITH_FAISS=ON and libfaiss-dev installed)");
#endif
}

std::unique_ptr<SearchIndex> make_index(const std::string& kind, const torch::Device& device, const FaissOptions& faiss) {
  if (kind == "exact") return make_exact_index(device);
  if (kind == "faiss") return make_faiss_index(faiss);
  fail("unknown index '{}' (known: exact, faiss)", kind);
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
