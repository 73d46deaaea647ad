#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/local_response_norm.h"

using namespace face;

namespace {

struct Result {
  torch::Tensor value, gradient;
};

// Value and input gradient of sum(w * lrn(x)) for a fixed random weighting w.
template <typename Lrn>
Result run(Lrn lrn, const torch::Tensor& input, const torch::Tensor& weighting) {
  auto x = input.detach().clone().requires_grad_(true);
  auto y = lrn(x);
  (y * weighting).sum().backward();
  return {y.detach(), x.grad().detach()};
}

void expect_fused_matches_composite(const torch::Tensor& x, const LrnOptions& options) {
  torch::manual_seed(7);
  auto weighting = torch::randn(x.sizes());
  auto fused = run([&](const torch::Tensor& t) { return local_response_norm(t, options); }, x, weighting);
  auto composite = run([&](const torch::Tensor& t) { return local_response_norm_composite(t, options); }, x, weighting);
  EXPECT_TRUE(torch::allclose(fused.value, composite.value, 1e-5, 1e-6))
      << "max value difference " << (fused.value - composite.value).abs().max().item<float>();
  EXPECT_TRUE(torch::allclose(fused.gradient, composite.gradient, 1e-4, 1e-5))
      << "max gradient difference " << (fused.gradient - composite.gradient).abs().max().item<float>();
  EXPECT_EQ(fused.value.suggest_memory_format(), x.suggest_memory_format()) << "the layer keeps the input's layout";
}

}  // namespace

TEST(LocalResponseNorm, FusedMatchesLibTorchsOwnLayer) {
  torch::manual_seed(1);
  // Large activations so the normalisation is far from the identity (s well above k).
  auto x = torch::randn({2, 12, 5, 4}) * 30;
  auto ours = local_response_norm(x);
  auto theirs = torch::nn::functional::local_response_norm(
      x, torch::nn::functional::LocalResponseNormFuncOptions(5).alpha(1e-4).beta(0.75).k(1.0));
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-5, 1e-6));
  EXPECT_GT((ours - x).abs().max().item<float>(), 1.0f) << "the test input must actually be normalised";
}

TEST(LocalResponseNorm, FusedValueAndGradientMatchTheCompositeForm) {
  torch::manual_seed(2);
  auto x = torch::randn({3, 16, 6, 5}) * 20;
  expect_fused_matches_composite(x, LrnOptions());                                   // nn4: beta 3/4
  expect_fused_matches_composite(x.contiguous(at::MemoryFormat::ChannelsLast), LrnOptions());
  expect_fused_matches_composite(x, LrnOptions().size(4).alpha(2e-3).beta(0.6).k(2.0));  // even size: lopsided window
  expect_fused_matches_composite(torch::randn({2, 3, 4, 4}) * 50, LrnOptions().size(7));  // window wider than C
}

TEST(LocalResponseNorm, OtherDtypesTakeTheCompositeForm) {
  auto x = torch::randn({2, 8, 3, 3}, torch::kFloat64) * 10;
  auto y = local_response_norm(x);
  EXPECT_EQ(y.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::allclose(y, local_response_norm_composite(x)));
}
