// Triplet loss against hand-computed values.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/triplet_loss.h"

namespace {

// Unit vectors with easy squared distances: d(0,1) = 0.8, d(0,2) = 2, d(1,2) = 0.4, d(0,3) = 4.
torch::Tensor points() { return torch::tensor({{1.0f, 0.0f}, {0.6f, 0.8f}, {0.0f, 1.0f}, {-1.0f, 0.0f}}); }

torch::Tensor mask_of(std::initializer_list<std::array<int, 3>> triplets) {
  auto mask = torch::zeros({4, 4, 4}, torch::kBool);
  for (const auto& t : triplets) mask[t[0]][t[1]][t[2]] = true;
  return mask;
}

}  // namespace

TEST(TripletLoss, SquaredDistancesAreExact) {
  auto d = face::squared_distances(points());
  EXPECT_NEAR(d[0][1].item<float>(), 0.8f, 1e-6);
  EXPECT_NEAR(d[0][2].item<float>(), 2.0f, 1e-6);
  EXPECT_NEAR(d[1][2].item<float>(), 0.4f, 1e-6);
  EXPECT_NEAR(d[0][3].item<float>(), 4.0f, 1e-6);
  EXPECT_EQ(d[2][2].item<float>(), 0.0f);
}

TEST(TripletLoss, MatchesHandComputedMean) {
  // (0,1,2): 0.8 - 2 + 0.2 < 0 -> 0;  (0,2,1): 2 - 0.8 + 0.2 = 1.4;  (1,0,2): 0.8 - 0.4 + 0.2 = 0.6
  auto mask = mask_of({{0, 1, 2}, {0, 2, 1}, {1, 0, 2}});
  EXPECT_NEAR(face::triplet_loss(points(), mask, {0.2, false}).item<float>(), 2.0 / 3.0, 1e-5);
  // Averaged over the active triplets only (batch_all): 2.0 / 2.
  EXPECT_NEAR(face::triplet_loss(points(), mask, {0.2, true}).item<float>(), 1.0, 1e-5);
  // Margin 1.5 makes (0,1,2) active too: (0.3 + 2.7 + 1.9) / 3.
  EXPECT_NEAR(face::triplet_loss(points(), mask, {1.5, false}).item<float>(), 4.9 / 3.0, 1e-5);
}

TEST(TripletLoss, EmptyMaskGivesZeroLossAndGradient) {
  auto e = points().requires_grad_(true);
  auto loss = face::triplet_loss(e, torch::zeros({4, 4, 4}, torch::kBool));
  EXPECT_EQ(loss.item<float>(), 0.0f);
  loss.backward();
  EXPECT_EQ(e.grad().abs().sum().item<float>(), 0.0f);
}

TEST(TripletLoss, GradientPullsPositiveInAndPushesNegativeOut) {
  auto e = points().requires_grad_(true);
  face::triplet_loss(e, mask_of({{0, 2, 1}})).backward();
  // dL/df(p) = -2 (f(a) - f(p)) = -2 * (1, -1): a step against it moves p towards a.
  EXPECT_NEAR(e.grad()[2][0].item<float>(), -2.0f, 1e-5);
  EXPECT_NEAR(e.grad()[2][1].item<float>(), 2.0f, 1e-5);
  // dL/df(n) = 2 (f(a) - f(n)) = 2 * (0.4, -0.8).
  EXPECT_NEAR(e.grad()[1][0].item<float>(), 0.8f, 1e-5);
  EXPECT_NEAR(e.grad()[1][1].item<float>(), -1.6f, 1e-5);
}
