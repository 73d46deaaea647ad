// The low-FAR term (train/low_far_loss.h): FAR levels, pair masks, thresholds over negative
// pairs, the loss against hand computation, that following it brings a student's strict
// decisions to the teacher's, and the trainer with it (telemetry, thresholds resumed exactly).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "model/model_file.h"
#include "train/low_far_loss.h"
#include "train/teacher_targets.h"
#include "train/trainer.h"
#include "trainer_fixture.h"
#include "util/error.h"

namespace {

using face::test::field;
using face::test::lines_of;
using face::test::pack_file;
using face::test::smoke;
using face::test::TempDir;

torch::Tensor unit_rows(const torch::Tensor& m) { return m / m.norm(2, 1, true); }

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

TEST(LowFarLoss, LevelsAreDecadesDownToTheStrictest) {
  EXPECT_EQ(face::far_levels(1e-3), (std::vector<double>{0.1, 0.01, 1e-3}));
  EXPECT_EQ(face::far_levels(0.1), (std::vector<double>{0.1}));
  EXPECT_EQ(face::far_levels(0.05), (std::vector<double>{0.1, 0.05}));
  EXPECT_EQ(face::far_levels(1e-6).size(), 6u);
}

TEST(LowFarLoss, PairMasksHoldTheUpperTriangleAndTreatUnlabelledRowsAsNegatives) {
  auto m = face::pair_masks(torch::tensor({0, 0, 1}, torch::kLong), 4);
  auto pos = m.positive.to(torch::kLong), neg = m.negative.to(torch::kLong);
  EXPECT_EQ(pos.sum().item<int64_t>(), 1);
  EXPECT_EQ(pos[0][1].item<int64_t>(), 1);
  EXPECT_EQ(neg.sum().item<int64_t>(), 5);  // (0,2) (1,2) (0,3) (1,3) (2,3)
  EXPECT_EQ(neg[0][1].item<int64_t>(), 0);
  EXPECT_EQ(neg[2][3].item<int64_t>(), 1);
  EXPECT_EQ((m.positive | m.negative).tril().sum().item<int64_t>(), 0);
}

TEST(LowFarLoss, ThresholdsAreQuantilesOfTheNegativePairsOnly) {
  torch::manual_seed(1);
  auto rows = unit_rows(torch::randn({12, 5}));
  auto labels = torch::tensor({0, 0, 1, 1, 2, 2, 3, 3}, torch::kLong);  // 8 labelled, 4 unlabelled
  auto masks = face::pair_masks(labels, 12);
  auto tau = face::negative_thresholds(rows.matmul(rows.t()), masks.negative, {0.1, 0.01});
  // By hand: the negative pairs' similarities, sorted, linear interpolation at 1 - f.
  auto sim = rows.matmul(rows.t());
  std::vector<double> negatives;
  for (int i = 0; i < 12; ++i)
    for (int j = i + 1; j < 12; ++j)
      if (!(i < 8 && j < 8 && i / 2 == j / 2)) negatives.push_back(sim[i][j].item<double>());
  ASSERT_EQ(negatives.size(), 66u - 4u);
  std::sort(negatives.begin(), negatives.end());
  auto quantile = [&](double q) {
    double at = q * (negatives.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(at));
    double frac = at - lo;
    return negatives[lo] + (lo + 1 < negatives.size() ? frac * (negatives[lo + 1] - negatives[lo]) : 0);
  };
  EXPECT_NEAR(tau[0].item<double>(), quantile(0.9), 1e-6);
  EXPECT_NEAR(tau[1].item<double>(), quantile(0.99), 1e-6);
  EXPECT_FALSE(tau.requires_grad());
}

TEST(LowFarLoss, MovingAverageStartsAtTheFirstBatch) {
  torch::Tensor running;
  face::update_thresholds(running, torch::tensor({0.5, 0.8}), 0.9);
  EXPECT_TRUE(torch::allclose(running, torch::tensor({0.5, 0.8})));
  face::update_thresholds(running, torch::tensor({1.5, 1.8}), 0.9);
  EXPECT_TRUE(torch::allclose(running, torch::tensor({0.6, 0.9})));
}

TEST(LowFarLoss, MatchesHandComputation) {
  // Three rows, one positive pair (0,1), two negatives; one level.
  auto s = unit_rows(torch::tensor({{1.0f, 0.0f}, {0.8f, 0.6f}, {0.0f, 1.0f}}));
  auto t = unit_rows(torch::tensor({{1.0f, 0.0f}, {0.6f, 0.8f}, {0.6f, -0.8f}}));
  auto masks = face::pair_masks(torch::tensor({0, 0, 1}, torch::kLong), 3);
  const double temperature = 0.1;
  auto ts = torch::tensor({0.5f}), tt = torch::tensor({0.7f});
  auto terms = face::low_far_loss(s.matmul(s.t()), t.matmul(t.t()), masks, ts, tt, temperature);
  // Student similarities: (0,1) 0.8, (0,2) 0, (1,2) 0.6; teacher: 0.6, 0.6, -0.28.
  // Selected: the positive, and negatives above 0.5 for the student or 0.7 for the teacher: (1,2).
  double g01 = sigmoid((0.8 - 0.5) / temperature) - sigmoid((0.6 - 0.7) / temperature);
  double g12 = sigmoid((0.6 - 0.5) / temperature) - sigmoid((-0.28 - 0.7) / temperature);
  EXPECT_NEAR(terms.loss.item<double>(), (g01 * g01 + g12 * g12) / 2, 1e-5);
  EXPECT_EQ(terms.selected_pairs.item<double>(), 2);
  EXPECT_NEAR(terms.decision_gap.item<double>(), (std::abs(g01) + std::abs(g12)) / 2, 1e-5);
}

TEST(LowFarLoss, ZeroWhenTheStudentIsTheTeacher) {
  torch::manual_seed(2);
  auto rows = unit_rows(torch::randn({10, 4}));
  auto masks = face::pair_masks(torch::tensor({0, 0, 1, 1, 2, 2}, torch::kLong), 10);
  auto sim = rows.matmul(rows.t());
  auto tau = face::negative_thresholds(sim, masks.negative, face::far_levels(0.01));
  auto terms = face::low_far_loss(sim, sim, masks, tau, tau, 0.01);
  EXPECT_EQ(terms.loss.item<double>(), 0);
  EXPECT_GT(terms.selected_pairs.item<double>(), 3);  // the positives at least
}

// Following the term's gradient, a random student comes to make the teacher's strict decisions:
// the decision gap over the selected pairs falls, with thresholds re-estimated every step.
TEST(LowFarLoss, FollowingItBringsTheStudentsDecisionsToTheTeachers) {
  torch::manual_seed(3);
  const int64_t n = 48;
  std::vector<int64_t> label_values;
  for (int64_t i = 0; i < 32; ++i) label_values.push_back(i / 4);
  auto labels = torch::tensor(label_values, torch::kLong);
  auto teacher = unit_rows(torch::randn({n, 8}));
  auto free = torch::randn({n, 8}).requires_grad_(true);
  torch::optim::Adam opt({free}, torch::optim::AdamOptions(0.05));
  auto masks = face::pair_masks(labels, n);
  const auto levels = face::far_levels(0.01);
  torch::Tensor ts, tt;
  double first = -1, last = -1;
  for (int step = 0; step < 150; ++step) {
    auto student = unit_rows(free);
    auto s = student.matmul(student.t()), t = teacher.matmul(teacher.t());
    face::update_thresholds(ts, face::negative_thresholds(s, masks.negative, levels), 0.5);
    face::update_thresholds(tt, face::negative_thresholds(t, masks.negative, levels), 0.5);
    auto terms = face::low_far_loss(s, t, masks, ts, tt, 0.05);
    if (step == 0) first = terms.decision_gap.item<double>();
    last = terms.decision_gap.item<double>();
    opt.zero_grad();
    terms.loss.backward();
    opt.step();
  }
  EXPECT_GT(first, 0.1);
  EXPECT_LT(last, first * 0.5) << "first " << first << ", last " << last;
}

// The trainer with the term: it is logged, summed into the loss, and its thresholds are part of
// the checkpoint, so a run stopped and resumed ends bit for bit where the whole run does.
TEST(TrainerLowFar, LogsTheTermAndResumesItsThresholdsExactly) {
  TempDir runs;
  face::test::ProjectionTeacher teacher;
  face::ensure_teacher_targets(teacher, face::load_pack(pack_file()), face::default_targets_path(pack_file()));
  std::vector<std::string> recipe = {"model.embedding_dim=16", "loss.triplet_weight=0", "loss.distill.weight=1",
                                     "loss.low_far.weight=2", "loss.low_far.strictest_far=0.01",
                                     "loss.low_far.temperature=0.05", "length.steps=6", "checkpoint.every_steps=0"};
  auto runs_of = face::test::train_whole_and_resumed(runs.path, recipe, 3);
  EXPECT_EQ(face::weights_fingerprint(*runs_of.resumed->model()), face::weights_fingerprint(*runs_of.whole->model()));
  torch::serialize::InputArchive a, b;
  a.load_from((runs.path / "whole" / face::checkpoint_name(6)).string());
  b.load_from((runs.path / "split" / face::checkpoint_name(6)).string());
  torch::Tensor whole, resumed;
  ASSERT_TRUE(a.try_read("low_far_student_thresholds", whole));
  ASSERT_TRUE(b.try_read("low_far_student_thresholds", resumed));
  EXPECT_EQ(whole.numel(), 2);  // FAR 0.1 and 0.01
  EXPECT_TRUE(torch::equal(whole, resumed));
  auto train = lines_of(runs.path / "whole" / "metrics.jsonl", "train");
  ASSERT_EQ(train.size(), 6u);
  const auto& last = train.back();
  EXPECT_GT(field(last, "low_far_pairs"), 0);
  EXPECT_TRUE(std::isfinite(field(last, "low_far_teacher_tau")));
  EXPECT_NEAR(field(last, "loss"),
              field(last, "distill_direct") + field(last, "distill_relational") + 2 * field(last, "low_far_loss"), 1e-4);
}

TEST(TrainerLowFar, ConfigChecksItsRangesAndNeedsTheTeacher) {
  TempDir runs;
  EXPECT_THROW(smoke(runs.path, {"loss.low_far.weight=-1"}), face::Error);
  EXPECT_THROW(smoke(runs.path, {"loss.low_far.strictest_far=0.5"}), face::Error);
  EXPECT_THROW(smoke(runs.path, {"loss.low_far.temperature=0"}), face::Error);
  EXPECT_THROW(smoke(runs.path, {"loss.low_far.momentum=1"}), face::Error);
  // The term alone is something to learn from.
  EXPECT_NO_THROW(smoke(runs.path, {"loss.triplet_weight=0", "loss.low_far.weight=1"}));
  // Old recipes keep their fingerprint; the term changes it.
  EXPECT_EQ(smoke(runs.path, {}).fingerprint(), smoke(runs.path, {"loss.low_far.temperature=0.01"}).fingerprint());
  EXPECT_NE(smoke(runs.path, {}).fingerprint(), smoke(runs.path, {"loss.low_far.weight=1"}).fingerprint());
  // Without targets the run stops at once, naming the file it looked for.
  auto missing = runs / "none.teacher";
  try {
    face::Trainer t(smoke(runs.path, {"run.name=x", "loss.low_far.weight=1", "data.teacher_targets=" + missing.string()}),
                    face::load_pack(pack_file()));
    FAIL() << "a missing targets file was accepted";
  } catch (const face::Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

}  // namespace
