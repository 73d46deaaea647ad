// The trainer's held-out pairs: balanced, alternating, within the validation images, capped,
// reproducible.
#include <gtest/gtest.h>

#include <set>

#include "data/validation_pairs.h"

namespace {

TEST(ValidationPairs, AlternateSameAndDifferentIdentityPairsOfTheValidationImages) {
  // Images 0..11: identity = index / 3 (4 identities x 3 images); validation = identities 1..3.
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 12; ++i) labels.push_back(i / 3);
  std::vector<int64_t> validation = {3, 4, 5, 6, 7, 8, 9, 10, 11};
  auto pairs = face::validation_pairs(labels, validation, 1000, 7);
  ASSERT_EQ(pairs.size(), 2u * 9);  // 3 identities x 3 same pairs each, one different pair after each
  std::set<std::pair<int64_t, int64_t>> same;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    EXPECT_EQ(p.same, i % 2 == 0) << i;
    EXPECT_EQ(labels[p.first] == labels[p.second], p.same) << i;
    EXPECT_GE(p.first, 3);  // identity 0 is not held out
    EXPECT_GE(p.second, 3);
    if (p.same) {
      EXPECT_TRUE(same.insert({p.first, p.second}).second) << "same pair listed twice";
    }
  }
  // Capped at max_pairs / 2 same pairs; the same seed gives the same list, another seed another order.
  auto capped = face::validation_pairs(labels, validation, 8, 7);
  EXPECT_EQ(capped.size(), 8u);
  auto again = face::validation_pairs(labels, validation, 1000, 7);
  auto other = face::validation_pairs(labels, validation, 1000, 8);
  bool equal = true, differs = false;
  for (size_t i = 0; i < pairs.size(); ++i) {
    equal &= pairs[i].first == again[i].first && pairs[i].second == again[i].second;
    differs |= pairs[i].first != other[i].first || pairs[i].second != other[i].second;
  }
  EXPECT_TRUE(equal);
  EXPECT_TRUE(differs);
  // One identity: no different pairs possible, so none at all.
  EXPECT_TRUE(face::validation_pairs(labels, {3, 4, 5}, 1000, 7).empty());
}

}  // namespace
