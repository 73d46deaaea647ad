#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/augment.h"

using namespace face;

TEST(Augment, AllOffIsIdentity) {
  auto x = torch::rand({4, 3, 16, 16});
  AugmentOptions off{false, 0, 0, 0};
  EXPECT_TRUE(torch::equal(augment(x, off), x));
}

TEST(Augment, FlipOnlyGivesEachImageOrItsMirror) {
  torch::manual_seed(1);
  auto x = torch::rand({32, 3, 8, 8});
  auto y = augment(x, {true, 0, 0, 0});
  int flipped = 0;
  for (int i = 0; i < 32; ++i) {
    bool same = torch::equal(y[i], x[i]), mirror = torch::equal(y[i], x[i].flip({2}));
    EXPECT_TRUE(same || mirror) << i;
    flipped += mirror;
  }
  EXPECT_GT(flipped, 4);
  EXPECT_LT(flipped, 28);
}

TEST(Augment, CropIsAShiftedWindowOfThePaddedImage) {
  torch::manual_seed(2);
  auto x = torch::rand({8, 3, 12, 12}) * 0.5 + 0.25;  // never 0, so padding is recognisable
  auto y = augment(x, {false, 2, 0, 0});
  ASSERT_EQ(y.sizes(), x.sizes());
  auto padded = torch::constant_pad_nd(x, {2, 2, 2, 2}, 0);
  for (int i = 0; i < 8; ++i) {
    bool found = false;
    for (int dy = 0; dy <= 4 && !found; ++dy)
      for (int dx = 0; dx <= 4 && !found; ++dx)
        found = torch::equal(y[i], padded[i].slice(1, dy, dy + 12).slice(2, dx, dx + 12));
    EXPECT_TRUE(found) << i;
  }
}

TEST(Augment, SameSeedSameResultAndRangeKept) {
  auto x = torch::rand({6, 3, 10, 10});
  torch::manual_seed(7);
  auto a = augment(x, {});
  torch::manual_seed(7);
  auto b = augment(x, {});
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_GE(a.min().item<float>(), 0.0f);
  EXPECT_LE(a.max().item<float>(), 1.0f);
  EXPECT_FALSE(torch::equal(a, x));
}

// Brightness adds one offset per image, drawn from U(-b, b): every pixel of an image moves by
// the same amount, no offset exceeds b, and over many images they reach near both ends.
TEST(Augment, BrightnessShiftsEachImageByOneOffsetWithinItsMagnitude) {
  torch::manual_seed(3);
  const double b = 0.2;
  auto x = torch::full({256, 3, 4, 4}, 0.5);  // mid-grey: no offset is clamped
  auto offsets = augment(x, {false, 0, b, 0}) - x;
  auto per_image = offsets.amax({1, 2, 3});
  EXPECT_TRUE(torch::allclose(per_image, offsets.amin({1, 2, 3}), 0, 1e-6)) << "one offset per image";
  EXPECT_LE(per_image.abs().max().item<double>(), b + 1e-6);
  EXPECT_GT(per_image.max().item<double>(), 0.9 * b);
  EXPECT_LT(per_image.min().item<double>(), -0.9 * b);
}

// Contrast scales each image about its mean by one factor 1 + U(-c, c): the mean stays, the
// deviations scale together, and the factors fill [1 - c, 1 + c].
TEST(Augment, ContrastScalesEachImageAboutItsMeanWithinItsMagnitude) {
  torch::manual_seed(4);
  const double c = 0.3;
  auto x = torch::rand({256, 3, 6, 6}) * 0.4 + 0.3;  // in [0.3, 0.7]: 1.3x about the mean stays in [0, 1]
  auto y = augment(x, {false, 0, 0, c});
  auto mean = x.mean({1, 2, 3}, true);
  EXPECT_TRUE(torch::allclose(y.mean({1, 2, 3}, true), mean, 0, 1e-5)) << "the mean is kept";
  auto deviation = x - mean;
  auto factor = (y - mean).mul(deviation).sum({1, 2, 3}) / deviation.pow(2).sum({1, 2, 3});  // least squares
  EXPECT_TRUE(torch::allclose(y - mean, deviation * factor.view({-1, 1, 1, 1}), 0, 1e-5)) << "one factor per image";
  EXPECT_GE(factor.min().item<double>(), 1 - c - 1e-5);
  EXPECT_LE(factor.max().item<double>(), 1 + c + 1e-5);
  EXPECT_LT(factor.min().item<double>(), 1 - 0.9 * c);
  EXPECT_GT(factor.max().item<double>(), 1 + 0.9 * c);
}
