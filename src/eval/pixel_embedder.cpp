#include "eval/pixel_embedder.h"

#include <fmt/ranges.h>
#include <torch/torch.h>

#include "data/normalisation.h"
#include "eval/pair_scoring.h"
#include "util/error.h"

namespace face {

namespace {

class PixelEmbedder : public Embedder {
 public:
  torch::Tensor embed(const torch::Tensor& images) override {
    if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != kInputSize || images.size(3) != kInputSize)
      fail("pixel baseline: expected images of shape (m, 3, {}, {}), got {}", kInputSize, kInputSize,
           fmt::join(images.sizes(), "x"));
    return l2_normalise(to_model_input(images.to(torch::kCPU)).flatten(1));
  }
  int64_t embedding_dim() const override { return 3 * kInputSize * kInputSize; }
  std::string fingerprint() const override { return "pixel"; }
  std::string description() const override {
    return fmt::format("pixel baseline (raw aligned 3x{}x{} pixels in [0,1], L2-normalised)", kInputSize, kInputSize);
  }
};

}  // namespace

std::unique_ptr<Embedder> pixel_embedder() { return std::make_unique<PixelEmbedder>(); }

}  // namespace face
