// Each miner on crafted embeddings: selections are checked against brute force on the host.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/miner.h"
#include "train/triplet_loss.h"

using face::MiningFallback;
using face::MiningStrategy;

namespace {

struct Batch {
  torch::Tensor d, labels;
  std::vector<int64_t> l;
  int64_t b;
};

// 4 identities x 4 images at random angles on a circle: varied distances, so some anchor-positive
// pairs have negatives in the semi-hard band and some do not.
Batch crafted(uint64_t seed) {
  torch::manual_seed(seed);
  auto angle = torch::rand({16}) * 6.2831853;
  auto e = torch::stack({angle.cos(), angle.sin()}, 1);
  Batch batch;
  batch.labels = torch::arange(16, torch::kLong).div(4, "floor");
  batch.d = face::squared_distances(e);
  batch.b = 16;
  for (int64_t i = 0; i < 16; ++i) batch.l.push_back(i / 4);
  return batch;
}

std::vector<std::array<int64_t, 3>> triplets(const torch::Tensor& mask) {
  auto nz = mask.nonzero();
  std::vector<std::array<int64_t, 3>> out;
  for (int64_t i = 0; i < nz.size(0); ++i)
    out.push_back({nz[i][0].item<int64_t>(), nz[i][1].item<int64_t>(), nz[i][2].item<int64_t>()});
  return out;
}

}  // namespace

TEST(Miner, SemihardPicksSatisfyTheBandOnePerPair) {
  const double alpha = 0.5;
  int band_pairs = 0, fallback_pairs = 0;
  for (uint64_t seed : {1, 2, 3}) {
    auto b = crafted(seed);
    auto d = b.d.accessor<float, 2>();
    auto mask = face::mine_triplets(b.d, b.labels, {MiningStrategy::semihard, MiningFallback::hardest, alpha});
    for (int64_t a = 0; a < b.b; ++a)
      for (int64_t p = 0; p < b.b; ++p) {
        if (p == a || b.l[p] != b.l[a]) {
          EXPECT_FALSE(mask[a][p].any().item<bool>());
          continue;
        }
        bool in_band = false;
        int64_t nearest = -1;
        for (int64_t n = 0; n < b.b; ++n) {
          if (b.l[n] == b.l[a]) continue;
          in_band |= d[a][n] > d[a][p] && d[a][n] < d[a][p] + alpha;
          if (nearest < 0 || d[a][n] < d[a][nearest]) nearest = n;
        }
        auto picked = triplets(mask[a][p].view({1, 1, -1}));
        ASSERT_EQ(picked.size(), 1u) << "anchor " << a << " positive " << p;
        int64_t n = picked[0][2];
        ASSERT_NE(b.l[n], b.l[a]);
        if (in_band) {
          ++band_pairs;
          EXPECT_GT(d[a][n], d[a][p]);
          EXPECT_LT(d[a][n], d[a][p] + alpha);
        } else {
          ++fallback_pairs;
          EXPECT_EQ(n, nearest);  // fallback MiningFallback::hardest: the closest negative
        }
      }
  }
  EXPECT_GT(band_pairs, 0);  // the crafted batches exercise both branches
  EXPECT_GT(fallback_pairs, 0);
}

TEST(Miner, SemihardSkipFallbackLeavesPairsWithoutBandEmpty) {
  auto b = crafted(2);
  auto d = b.d.accessor<float, 2>();
  auto mask = face::mine_triplets(b.d, b.labels, {MiningStrategy::semihard, MiningFallback::skip, 0.5});
  for (auto [a, p, n] : triplets(mask)) {
    EXPECT_GT(d[a][n], d[a][p]);
    EXPECT_LT(d[a][n], d[a][p] + 0.5);
  }
  EXPECT_LE(mask.sum(2).max().item<int64_t>(), 1);
}

TEST(Miner, HardPicksTheExtremesPerAnchor) {
  auto b = crafted(4);
  auto d = b.d.accessor<float, 2>();
  auto picked = triplets(face::mine_triplets(b.d, b.labels, {MiningStrategy::hard, MiningFallback::hardest, 0.2}));
  ASSERT_EQ(picked.size(), static_cast<size_t>(b.b));  // one triplet per anchor
  for (auto [a, p, n] : picked) {
    EXPECT_EQ(b.l[p], b.l[a]);
    EXPECT_NE(p, a);
    EXPECT_NE(b.l[n], b.l[a]);
    for (int64_t j = 0; j < b.b; ++j) {
      if (j != a && b.l[j] == b.l[a]) {
        EXPECT_GE(d[a][p], d[a][j]);
      }
      if (b.l[j] != b.l[a]) {
        EXPECT_LE(d[a][n], d[a][j]);
      }
    }
  }
}

TEST(Miner, BatchAllCountsEveryValidTriplet) {
  auto b = crafted(5);
  // Unbalanced labels too: identity 0 has 6 images, identity 3 only 2.
  b.labels = torch::tensor({0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3}, torch::kLong);
  int64_t expected = 0;
  auto l = b.labels.accessor<int64_t, 1>();
  for (int64_t a = 0; a < 16; ++a)
    for (int64_t p = 0; p < 16; ++p)
      for (int64_t n = 0; n < 16; ++n) expected += p != a && l[p] == l[a] && l[n] != l[a];
  auto mask = face::mine_triplets(b.d, b.labels, {MiningStrategy::batch_all, MiningFallback::hardest, 0.2});
  EXPECT_EQ(mask.sum().item<int64_t>(), expected);
  for (auto [a, p, n] : triplets(mask)) {
    EXPECT_TRUE(p != a && l[p] == l[a] && l[n] != l[a]);
  }
}

TEST(Miner, MarginPicksNegativesInsideTheMargin) {
  auto b = crafted(6);
  auto d = b.d.accessor<float, 2>();
  auto mask = face::mine_triplets(b.d, b.labels, {MiningStrategy::margin, MiningFallback::hardest, 0.3});
  auto picked = triplets(mask);
  EXPECT_FALSE(picked.empty());
  for (auto [a, p, n] : picked) {
    EXPECT_NE(b.l[n], b.l[a]);
    EXPECT_LT(d[a][n] - d[a][p], 0.3);
  }
  EXPECT_LE(mask.sum(2).max().item<int64_t>(), 1);
}

TEST(Miner, SingleIdentityBatchHasNoTriplets) {
  auto b = crafted(7);
  auto labels = torch::zeros({16}, torch::kLong);
  for (auto s : {MiningStrategy::semihard, MiningStrategy::hard, MiningStrategy::batch_all, MiningStrategy::margin})
    EXPECT_EQ(face::mine_triplets(b.d, labels, {s, MiningFallback::hardest, 0.2}).sum().item<int64_t>(), 0)
        << static_cast<int>(s);
}
