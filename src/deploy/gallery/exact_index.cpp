// exact_index.cpp: the exact SearchIndex kinds (search_index.h): the CPU scan of flat_scan.h, or
// LibTorch's matrix product and topk on a GPU (where bandwidth is no concern at gallery sizes).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "deploy/gallery/flat_scan.h"
#include "deploy/gallery/search_index.h"
#include "util/error.h"

namespace face {

namespace {

class CpuExactIndex : public SearchIndex {
 public:
  explicit CpuExactIndex(bool half) : half_(half) {}
  void build(const torch::Tensor& embeddings) override { scan_ = FlatScan(embeddings, half_); }
  RowHits search(const torch::Tensor& queries, int64_t k) const override {
    torch::NoGradGuard no_grad;
    RowHits hits;
    scan_.search(queries, k, &hits.distances, &hits.rows);
    return hits;
  }
  std::string name() const override {
    return fmt::format("exact{} (cpu, {})", half_ ? "-fp16" : "", flat_scan_uses_avx2() ? "avx2" : "portable");
  }
  int64_t bytes() const override { return scan_.bytes(); }

 private:
  bool half_;
  FlatScan scan_;
};

class DeviceExactIndex : public SearchIndex {
 public:
  explicit DeviceExactIndex(torch::Device device) : device_(device) {}
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
  std::string name() const override { return "exact-torch (" + device_.str() + ")"; }
  int64_t bytes() const override {
    return rows_.defined() ? static_cast<int64_t>(rows_.nbytes() + norms_.nbytes()) : 0;
  }

 private:
  torch::Device device_;
  torch::Tensor rows_, norms_;
};

}  // namespace

std::unique_ptr<SearchIndex> make_exact_index(const torch::Device& device, bool half) {
  if (device.is_cpu()) return std::make_unique<CpuExactIndex>(half);
  if (half) fail("the exact-fp16 index runs on the CPU only (asked for {}): use 'exact' there", device.str());
  return make_torch_exact_index(device);
}

std::unique_ptr<SearchIndex> make_torch_exact_index(const torch::Device& device) {
  return std::make_unique<DeviceExactIndex>(device);
}

}  // namespace face
