#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/pxk_sampler.h"
#include "util/error.h"

using namespace face;

namespace {
// 10 identities with 1..10 images: identity i has i+1 images.
std::vector<int64_t> uneven_labels() {
  std::vector<int64_t> labels;
  for (int64_t id = 0; id < 10; ++id)
    for (int64_t j = 0; j <= id; ++j) labels.push_back(id);
  return labels;
}
}  // namespace

TEST(PxkSampler, BatchesHaveExactlyPIdentitiesOfKImages) {
  auto labels = uneven_labels();
  PxkSampler sampler(labels, {.p = 4, .k = 3, .min_images = 2, .seed = 1});
  EXPECT_EQ(sampler.eligible_identities(), 9);  // the one-image identity cannot give a positive
  for (int b = 0; b < 20; ++b) {
    auto batch = sampler.next();
    ASSERT_EQ(batch.size(), 12u);
    std::set<int64_t> ids;
    for (int slot = 0; slot < 4; ++slot) {
      int64_t id = labels[batch[slot * 3]];
      for (int j = 0; j < 3; ++j) EXPECT_EQ(labels[batch[slot * 3 + j]], id);
      EXPECT_NE(id, 0);
      ids.insert(id);
    }
    EXPECT_GE(ids.size(), 3u);  // distinct within a batch, save across an epoch boundary
  }
}

TEST(PxkSampler, DrawsWithoutReplacementWhenAnIdentityHasKImages) {
  std::vector<int64_t> labels(40);
  for (int i = 0; i < 40; ++i) labels[i] = i / 10;  // 4 identities x 10 images
  PxkSampler sampler(labels, {.p = 4, .k = 5, .seed = 2});
  auto batch = sampler.next();
  for (int slot = 0; slot < 4; ++slot) {
    std::set<int64_t> images(batch.begin() + slot * 5, batch.begin() + slot * 5 + 5);
    EXPECT_EQ(images.size(), 5u);
  }
}

TEST(PxkSampler, EveryIdentityIsVisitedOncePerEpoch) {
  auto labels = uneven_labels();
  PxkSampler sampler(labels, {.p = 3, .k = 2, .seed = 4});
  std::map<int64_t, int> visits;
  for (int b = 0; b < 3; ++b) {  // 9 eligible identities = 3 batches of 3
    auto batch = sampler.next();
    for (int slot = 0; slot < 3; ++slot) ++visits[labels[batch[slot * 2]]];
  }
  EXPECT_EQ(visits.size(), 9u);
  for (auto& [id, n] : visits) EXPECT_EQ(n, 1) << id;
}

TEST(PxkSampler, SameSeedSameStreamOtherSeedOtherStream) {
  auto labels = uneven_labels();
  PxkSampler a(labels, {.p = 4, .k = 3, .seed = 9}), b(labels, {.p = 4, .k = 3, .seed = 9}),
      c(labels, {.p = 4, .k = 3, .seed = 10});
  bool differs = false;
  for (int i = 0; i < 10; ++i) {
    auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(PxkSampler, RestoredStateContinuesTheSameStream) {
  auto labels = uneven_labels();
  PxkSampler a(labels, {.p = 4, .k = 3, .seed = 5});
  for (int i = 0; i < 7; ++i) a.next();
  PxkSampler b(labels, {.p = 4, .k = 3, .seed = 123});
  b.restore(a.state());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next(), b.next());
  EXPECT_EQ(a.epoch(), b.epoch());
}

TEST(PxkSampler, StateOfOtherDataOrShapeIsRefused) {
  auto labels = uneven_labels();
  PxkSampler a(labels, {.p = 4, .k = 3});
  auto other = labels;
  other.push_back(3);
  PxkSampler b(other, {.p = 4, .k = 3});
  // Same identities, one more image in one of them: the message says what differs.
  try {
    b.restore(a.state());
    ADD_FAILURE() << "state of other data was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("same number of identities (9) but other images"), std::string::npos)
        << e.what();
  }
  auto fewer = labels;
  fewer.resize(fewer.size() - 10);  // identity 9 gone
  PxkSampler d(fewer, {.p = 4, .k = 3});
  try {
    d.restore(a.state());
    ADD_FAILURE() << "state of other data was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("saved with 9 sampled identities, this data has 8"), std::string::npos)
        << e.what();
  }
  PxkSampler c(labels, {.p = 3, .k = 3});
  EXPECT_THROW(c.restore(a.state()), Error);
  EXPECT_THROW(c.restore("garbage"), Error);
}

TEST(PxkSampler, TooFewIdentitiesIsAClearError) {
  EXPECT_THROW(PxkSampler({0, 0, 1, 1}, {.p = 3, .k = 2}), Error);
  EXPECT_THROW(PxkSampler({0, 0, 1, 1}, {.p = 2, .k = 1}), Error);
}
