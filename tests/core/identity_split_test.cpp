#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "data/identity_split.h"

using namespace face;

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
