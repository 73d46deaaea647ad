// Strict thresholds over every pair of different people (eval/impostor_thresholds.h): a case by
// hand, a brute-force check across several blocks, the rule that leaves out a target with too
// few false accepts, and the identities of an LFW list.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "eval/impostor_thresholds.h"
#include "util/error.h"

using namespace face;

namespace {
// A unit vector at `degrees` in the first two dimensions of D = 4.
torch::Tensor at_angle(double degrees) {
  const double r = degrees * M_PI / 180.0;
  return torch::tensor({std::cos(r), std::sin(r), 0.0, 0.0}, torch::kFloat32);
}
}  // namespace

TEST(ImpostorThresholds, ByHandOnFiveFaces) {
  // Angles 0, 10 (same person), 60, 90, 180. Squared L2 of unit vectors: 2 - 2 cos(angle).
  // Impostor pairs (9 of the 10): person 0 at 0 and 10 degrees, persons 1-3 at 60, 90, 180.
  torch::Tensor rows = torch::stack({at_angle(0), at_angle(10), at_angle(60), at_angle(90), at_angle(180)});
  std::vector<int64_t> person = {7, 7, 1, 2, 3};
  std::vector<double> d;
  for (auto [a, b] : std::vector<std::pair<double, double>>{
           {0, 60}, {0, 90}, {0, 180}, {10, 60}, {10, 90}, {10, 180}, {60, 90}, {60, 180}, {90, 180}})
    d.push_back(2 - 2 * std::cos((b - a) * M_PI / 180.0));
  std::sort(d.begin(), d.end());  // 30, 50, 60, 80, 90, 90, 120, 170, 180 degrees apart
  auto t = impostor_thresholds(rows, person, {0.2, 0.5}, DistanceKind::squared_l2, /*min_accepted=*/1);
  EXPECT_EQ(t.images, 5);
  EXPECT_EQ(t.identities, 4);
  EXPECT_EQ(t.impostor_pairs, 9);
  ASSERT_EQ(t.at.size(), 2u);
  // FAR 0.2 of 9 pairs: k = 1, the second smallest distance (50 degrees); one pair (30) below it.
  EXPECT_NEAR(t.at[0].threshold, d[1], 1e-5);
  EXPECT_EQ(t.at[0].accepted, 1);
  // FAR 0.5: k = 4, the fifth smallest (90 degrees, twice: 0-90 and 90-180); 4 pairs below it.
  EXPECT_NEAR(t.at[1].threshold, d[4], 1e-5);
  EXPECT_EQ(t.at[1].accepted, 4);
  // The cosine distance is half the squared L2 for unit vectors.
  auto c = impostor_thresholds(rows, person, {0.2}, DistanceKind::cosine, 1);
  EXPECT_NEAR(c.at[0].threshold, d[1] / 2, 1e-5);
}

TEST(ImpostorThresholds, MatchBruteForceAcrossBlocks) {
  // 1,300 rows (three blocks of 512), 200 people of 6-7 faces around random centres.
  torch::manual_seed(3);
  const int64_t n = 1300;
  torch::Tensor centres = torch::randn({200, 16});
  std::vector<int64_t> person(n);
  for (int64_t i = 0; i < n; ++i) person[i] = (i * 37) % 200;
  torch::Tensor rows = centres.index_select(0, torch::tensor(person)) + 0.7 * torch::randn({n, 16});
  rows = rows / rows.norm(2, 1, true);

  torch::Tensor d = (2.0 - 2.0 * torch::mm(rows, rows.t())).clamp_min(0);
  std::vector<float> impostor;
  auto acc = d.accessor<float, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j)
      if (person[i] != person[j]) impostor.push_back(acc[i][j]);
  std::sort(impostor.begin(), impostor.end());

  auto t = impostor_thresholds(rows, person, {1e-2, 1e-3, 1e-4}, DistanceKind::squared_l2);
  EXPECT_EQ(t.impostor_pairs, static_cast<int64_t>(impostor.size()));
  ASSERT_EQ(t.at.size(), 3u);  // 840,750 pairs: 1e-4 expects 84 false accepts (>= 10)
  double previous = 5;
  for (const auto& at : t.at) {
    const auto k = static_cast<size_t>(std::floor(at.far_target * static_cast<double>(impostor.size())));
    EXPECT_NEAR(at.threshold, impostor[k], 1e-5) << at.far_target;
    const auto below = std::lower_bound(impostor.begin(), impostor.end(), static_cast<float>(at.threshold)) -
                       impostor.begin();
    EXPECT_NEAR(static_cast<double>(at.accepted), static_cast<double>(below), 1) << at.far_target;
    EXPECT_LE(static_cast<double>(at.accepted) / static_cast<double>(t.impostor_pairs), at.far_target);
    EXPECT_LT(at.threshold, previous);  // stricter targets, smaller distances
    previous = at.threshold;
  }
}

TEST(ImpostorThresholds, TargetsWithTooFewFalseAcceptsAreLeftOut) {
  torch::manual_seed(1);
  torch::Tensor rows = torch::randn({60, 8});
  rows = rows / rows.norm(2, 1, true);
  std::vector<int64_t> person(60);
  for (int i = 0; i < 60; ++i) person[i] = i / 2;  // 30 people of 2: 1,770 - 30 = 1,740 impostor pairs
  auto t = impostor_thresholds(rows, person, {1e-1, 1e-2, 1e-3}, DistanceKind::squared_l2);
  EXPECT_EQ(t.impostor_pairs, 1740);
  ASSERT_EQ(t.at.size(), 2u);  // 1e-3 would expect 1.7 false accepts
  EXPECT_DOUBLE_EQ(t.at[0].far_target, 1e-1);
  EXPECT_DOUBLE_EQ(t.at[1].far_target, 1e-2);
  EXPECT_THROW(impostor_thresholds(rows, person, {0.0}, DistanceKind::squared_l2), Error);
  EXPECT_THROW(impostor_thresholds(rows, {1, 2}, {0.1}, DistanceKind::squared_l2), Error);
}

TEST(ImpostorThresholds, LfwListsNameThePeopleCsvListsDoNot) {
  PairList lfw;
  lfw.format = "lfw-view1";
  auto ids = pair_list_identities(lfw, {"Ann/Ann_0001.jpg", "Bob/Bob_0002.jpg", "Ann/Ann_0003.jpg"});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_NE(ids[0], ids[1]);
  PairList csv;
  csv.format = "csv";
  EXPECT_TRUE(pair_list_identities(csv, {"a/1.png", "b/2.png"}).empty());
}
