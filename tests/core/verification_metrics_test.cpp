// Hand-checked cases for the verification metrics; tests/core/metrics_fixture_test.cpp (the
// evaluator's) compares against an independent implementation.
#include <gtest/gtest.h>

#include "eval/verification_metrics.h"
#include "util/error.h"

using namespace face;

TEST(VerificationMetrics, PerfectSeparationScoresOne) {
  std::vector<double> d;
  std::vector<bool> same;
  for (int i = 0; i < 100; ++i) {
    d.push_back(i % 2 ? 0.1 + i * 0.001 : 1.5 + i * 0.001);
    same.push_back(i % 2);
  }
  auto m = verification_metrics(d, same, 10);
  EXPECT_DOUBLE_EQ(m.accuracy_mean, 1.0);
  EXPECT_DOUBLE_EQ(m.accuracy_std, 0.0);
  EXPECT_DOUBLE_EQ(m.auc, 1.0);
  EXPECT_DOUBLE_EQ(m.eer, 0.0);
  EXPECT_GT(m.best_threshold, 0.2);
  EXPECT_LT(m.best_threshold, 1.5);
  EXPECT_DOUBLE_EQ(m.val[0].val_mean, 1.0);
}

TEST(VerificationMetrics, HandComputedSmallCase) {
  // same: 0.1 0.4 0.6 ; different: 0.3 0.5 0.9. Best threshold accepts {0.1,0.3,0.4}: 4/6 right,
  // first reached at (0.4+0.5)/2. AUC: same<diff in 1*3 + 1*2 (0.4<0.5,0.9) + 1 (0.6<0.9) = 6 of 9.
  std::vector<double> d = {0.1, 0.4, 0.6, 0.3, 0.5, 0.9};
  std::vector<bool> same = {true, true, true, false, false, false};
  auto best = best_accuracy_threshold(d, same);
  EXPECT_NEAR(best.accuracy, 4.0 / 6, 1e-12);
  EXPECT_NEAR(best.threshold, 0.2, 1e-12);  // accepting {0.1} also gives 4/6 and comes first
  auto m = verification_metrics(d, same, 2);
  EXPECT_NEAR(m.auc, 6.0 / 9, 1e-12);
  EXPECT_NEAR(m.eer, 1.0 / 3, 1e-12);
}

TEST(VerificationMetrics, TiesAreNeverSplit) {
  std::vector<double> d = {0.5, 0.5, 0.5, 0.5};
  std::vector<bool> same = {true, false, true, false};
  auto m = verification_metrics(d, same, 2);
  EXPECT_NEAR(m.auc, 0.5, 1e-12);
  EXPECT_NEAR(m.best_accuracy, 0.5, 1e-12);
}

TEST(VerificationMetrics, ThresholdIsNeverChosenOnItsOwnFold) {
  // Fold 0 alone prefers a threshold near 1.0; folds 1..3 prefer one near 0.3. Fold 0 must be
  // scored with the others' threshold, and so does badly.
  std::vector<double> d;
  std::vector<bool> same;
  for (int f = 0; f < 4; ++f)
    for (int i = 0; i < 10; ++i) {
      bool s = i < 5;
      d.push_back(f == 0 ? (s ? 0.8 : 1.2) : (s ? 0.2 : 0.4));
      same.push_back(s);
    }
  auto m = verification_metrics(d, same, 4);
  EXPECT_NEAR(m.folds[0].accuracy, 0.5, 1e-12);
  for (int f = 1; f < 4; ++f) EXPECT_NEAR(m.folds[f].accuracy, 1.0, 1e-12);
  EXPECT_LT(m.folds[0].threshold, 0.8);
}

TEST(VerificationMetrics, BadInputIsRefused) {
  EXPECT_THROW(verification_metrics({0.1, 0.2}, {true}, 2), Error);
  EXPECT_THROW(verification_metrics({0.1}, {true}, 10), Error);
  EXPECT_THROW(verification_metrics({0.1, NAN}, {true, false}, 2), Error);
}

TEST(VerificationMetrics, AListShorterThanTheFoldCountSaysSo) {
  std::vector<double> d = {0.1, 0.2, 1.5, 1.7, 0.3};
  std::vector<bool> same = {true, true, false, false, true};
  try {
    verification_metrics(d, same, 8);
    ADD_FAILURE() << "5 pairs were split into 8 folds";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shorter than the fold count"), std::string::npos) << e.what();
  }
}
