#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/augment.h"
#include "data/identity_split.h"

#include <set>

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

TEST(IdentitySplit, DisjointDeterministicAndStableUnderReordering) {
  std::vector<std::string> names;
  std::vector<int64_t> labels;
  for (int id = 0; id < 200; ++id) {
    names.push_back("person_" + std::to_string(id));
    for (int j = 0; j < 3; ++j) labels.push_back(id);
  }
  auto s = split_by_identity(labels, names, 0.2, 42);
  EXPECT_EQ(s.train.size() + s.validation.size(), labels.size());
  std::set<int64_t> train_ids, val_ids;
  for (auto i : s.train) train_ids.insert(labels[i]);
  for (auto i : s.validation) val_ids.insert(labels[i]);
  for (auto id : val_ids) EXPECT_EQ(train_ids.count(id), 0u);
  EXPECT_GT(val_ids.size(), 20u);
  EXPECT_LT(val_ids.size(), 60u);
  EXPECT_EQ(split_by_identity(labels, names, 0.2, 42).validation, s.validation);
  EXPECT_NE(split_by_identity(labels, names, 0.2, 43).validation, s.validation);

  // Reversed identity order: the same names land on the same side.
  std::vector<std::string> reversed(names.rbegin(), names.rend());
  std::vector<int64_t> relabelled;
  for (auto l : labels) relabelled.push_back(199 - l);
  auto r = split_by_identity(relabelled, reversed, 0.2, 42);
  std::set<std::string> a, b;
  for (auto i : s.validation) a.insert(names[labels[i]]);
  for (auto i : r.validation) b.insert(reversed[relabelled[i]]);
  EXPECT_EQ(a, b);
}
