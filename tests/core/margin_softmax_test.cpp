// CosFace and ArcFace: the loss against hand computation, its reduction to the normalised
// softmax, learning on a separable toy set, and the trainer with class centres (telemetry,
// exact resume, centres kept out of exports).
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>

#include "deploy/export.h"
#include "model/model_file.h"
#include "test_support.h"
#include "train/checkpoint.h"
#include "train/margin_softmax_loss.h"
#include "train/teacher_targets.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "trainer_fixture.h"
#include "util/error.h"

namespace {

using face::MarginKind;
using face::test::field;
using face::test::lines_of;
using face::test::pack_file;
using face::test::smoke;
using face::test::TempDir;

// Mean softmax cross-entropy of rows of logits (double precision, by hand).
double cross_entropy(const std::vector<std::vector<double>>& logits, const std::vector<int>& target) {
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    double sum = 0;
    for (double z : logits[i]) sum += std::exp(z);
    total += std::log(sum) - logits[i][target[i]];
  }
  return total / logits.size();
}

// Two samples, three classes, 2-d: x0 = (3, 0) of class 0, x1 = (0.6, 0.8) of class 2; centres
// (1, 0), (0, 2), (-1, 1). Unit vectors give cos(x0, .) = (1, 0, -1/sqrt2) and
// cos(x1, .) = (0.6, 0.8, 0.2/sqrt2).
struct ToyCase {
  torch::Tensor x = torch::tensor({3.0, 0.0, 0.6, 0.8}, torch::kDouble).view({2, 2});
  torch::Tensor w = torch::tensor({1.0, 0.0, 0.0, 2.0, -1.0, 1.0}, torch::kDouble).view({3, 2});
  torch::Tensor y = torch::tensor({0, 2}, torch::kLong);
  double r = 1 / std::sqrt(2.0);
};

void expect_logits(const face::MarginSoftmaxTerms& t, const std::vector<std::vector<double>>& expected,
                   const std::vector<int>& target) {
  auto got = t.logits.accessor<double, 2>();
  for (size_t i = 0; i < expected.size(); ++i)
    for (size_t j = 0; j < expected[i].size(); ++j) EXPECT_NEAR(got[i][j], expected[i][j], 1e-6) << i << "," << j;
  EXPECT_NEAR(t.loss.item<double>(), cross_entropy(expected, target), 1e-6);
}

TEST(MarginSoftmaxLoss, CosFaceLogitsAndLossMatchHandComputation) {
  ToyCase c;
  auto t = face::margin_softmax_loss(c.x, c.w, c.y, {MarginKind::cosface, 0.35, 2.0});
  expect_logits(t, {{2 * (1 - 0.35), 0, -2 * c.r}, {2 * 0.6, 2 * 0.8, 2 * (0.2 * c.r - 0.35)}}, {0, 2});
  EXPECT_NEAR(t.target_cosine.item<double>(), (1 + 0.2 * c.r) / 2, 1e-9);
  EXPECT_NEAR(t.target_angle.item<double>(), (0 + std::acos(0.2 * c.r)) / 2 * 180 / M_PI, 1e-6);
  EXPECT_NEAR(t.accuracy.item<float>(), 0.5, 1e-7);  // x1's nearest centre is class 1
}

TEST(MarginSoftmaxLoss, ArcFaceAddsTheMarginToTheAngleAndFallsBackPastPiMinusM) {
  ToyCase c;
  const double m = 0.5, s = 2;
  auto t = face::margin_softmax_loss(c.x, c.w, c.y, {MarginKind::arcface, m, s});
  expect_logits(t, {{s * std::cos(0 + m), 0, -s * c.r}, {s * 0.6, s * 0.8, s * std::cos(std::acos(0.2 * c.r) + m)}},
                {0, 2});
  // theta = pi for x = (-1, 0) against centre (1, 0): past pi - m the target logit is
  // s (cos(theta) - m sin(pi - m)); with easy_margin, where cos <= 0, the plain cosine.
  auto x = torch::tensor({-1.0, 0.0}, torch::kDouble).view({1, 2});
  auto y = torch::tensor({0}, torch::kLong);
  auto hard = face::margin_softmax_loss(x, c.w, y, {MarginKind::arcface, m, s});
  EXPECT_NEAR(hard.logits[0][0].item<double>(), s * (-1 - m * std::sin(M_PI - m)), 1e-6);
  auto easy = face::margin_softmax_loss(x, c.w, y, {MarginKind::arcface, m, s, /*easy_margin=*/true});
  EXPECT_NEAR(easy.logits[0][0].item<double>(), -s, 1e-6);
  // The point of the fallback: the target logit never rises as the angle grows, over all of [0, pi].
  double previous = s;
  for (int i = 0; i <= 180; ++i) {
    double theta = M_PI * i / 180;
    auto at = torch::tensor({std::cos(theta), std::sin(theta)}, torch::kDouble).view({1, 2});
    auto v = face::margin_softmax_loss(at, c.w, y, {MarginKind::arcface, m, s}).logits[0][0].item<double>();
    EXPECT_LE(v, previous + 1e-12) << "theta " << theta;
    previous = v;
  }
}

TEST(MarginSoftmaxLoss, MarginZeroIsTheNormalisedSoftmax) {
  torch::manual_seed(3);
  auto x = torch::randn({16, 8}, torch::kDouble), w = torch::randn({5, 8}, torch::kDouble);
  auto y = torch::randint(0, 5, {16}, torch::kLong);
  namespace F = torch::nn::functional;
  auto unit = F::NormalizeFuncOptions().dim(1);
  auto plain = F::cross_entropy(30 * F::normalize(x, unit).matmul(F::normalize(w, unit).t()), y).item<double>();
  for (auto kind : {MarginKind::cosface, MarginKind::arcface}) {
    auto t = face::margin_softmax_loss(x, w, y, {kind, 0.0, 30.0});
    EXPECT_NEAR(t.loss.item<double>(), plain, 1e-6);
  }
  // And a positive margin makes the same batch's loss larger.
  EXPECT_GT(face::margin_softmax_loss(x, w, y, {MarginKind::cosface, 0.35, 30.0}).loss.item<double>(), plain + 0.1);
  EXPECT_THROW(face::margin_kind("sphereface"), face::Error);
}

// Ten Gaussian clusters in 32-d, a linear embedder to 16-d and the class centres, trained with
// Adam: the nearest-centre accuracy starts near chance and ends near 1.
TEST(MarginSoftmaxLoss, TrainingOnASeparableSetRaisesAccuracy) {
  for (auto kind : {MarginKind::cosface, MarginKind::arcface}) {
    torch::manual_seed(0);
    const int64_t classes = 10, per_class = 20;
    auto means = torch::randn({classes, 32}) * 2;
    auto y = torch::arange(classes).repeat_interleave(per_class);
    auto x = means.index_select(0, y) + torch::randn({classes * per_class, 32});
    torch::nn::Linear embedder(32, 16);
    auto centres = face::initial_class_centres(classes, 16, torch::kCPU);
    auto parameters = embedder->parameters();
    parameters.push_back(centres);
    torch::optim::Adam adam(parameters, torch::optim::AdamOptions(0.01));
    face::MarginSoftmaxOptions options{kind, kind == MarginKind::cosface ? 0.35 : 0.5, 16.0};
    double first = -1, last = -1;
    for (int step = 0; step < 300; ++step) {
      auto t = face::margin_softmax_loss(embedder->forward(x), centres, y, options);
      if (step == 0) first = t.accuracy.item<double>();
      last = t.accuracy.item<double>();
      adam.zero_grad();
      t.loss.backward();
      adam.step();
    }
    EXPECT_LT(first, 0.4) << static_cast<int>(kind);
    EXPECT_GT(last, 0.97) << static_cast<int>(kind);
  }
}

// Prototype centres: a first visit sets the unit mean, a later one blends with the momentum, an
// unvisited class stays zero, and a non-finite batch changes nothing.
TEST(MarginSoftmaxLoss, PrototypeCentresFollowTheRunningClassMean) {
  auto centres = face::initial_prototype_centres(3, 2, torch::kCPU);
  EXPECT_FALSE(centres.requires_grad());
  // Class 0: (2, 0) and (0, 4) -> unit vectors (1, 0), (0, 1) -> mean direction (1, 1) / sqrt 2.
  auto x = torch::tensor({2.0f, 0.0f, 0.0f, 4.0f, -3.0f, 0.0f}).view({3, 2});
  auto y = torch::tensor({0, 0, 2}, torch::kLong);
  face::update_prototype_centres(centres, face::class_sums(x, y, 3), 0.75);
  const float r = 1 / std::sqrt(2.0f);
  EXPECT_TRUE(torch::allclose(centres, torch::tensor({r, r, 0.0f, 0.0f, -1.0f, 0.0f}).view({3, 2})));
  // Class 0 seen again at (0, -1): unit(0.75 (r, r) + 0.25 (0, -1)).
  face::update_prototype_centres(centres, face::class_sums(torch::tensor({0.0f, -1.0f}).view({1, 2}),
                                                           torch::tensor({0}, torch::kLong), 3), 0.75);
  auto blended = torch::tensor({0.75f * r, 0.75f * r - 0.25f});
  EXPECT_TRUE(torch::allclose(centres[0], blended / blended.norm()));
  EXPECT_TRUE(torch::equal(centres[1], torch::zeros({2})));  // never visited
  auto before = centres.clone();
  face::update_prototype_centres(centres, face::class_sums(torch::tensor({NAN, 1.0f}).view({1, 2}),
                                                           torch::tensor({2}, torch::kLong), 3), 0.75);
  EXPECT_TRUE(torch::equal(centres, before));
}

// The regime of the failed CPU run, in miniature: 400 classes, batches of 8 classes x 4, so each
// class is in about 3 of the 150 batches. Centres learned by Adam stay near chance; prototype
// centres classify fresh samples of every class.
TEST(MarginSoftmaxLoss, PrototypeCentresLearnWithFewVisitsPerClass) {
  const int64_t classes = 400, p = 8, k = 4, steps = 150;
  auto accuracy_with = [&](bool prototype) {
    torch::manual_seed(0);
    auto means = torch::randn({classes, 32}) * 2;
    torch::nn::Linear embedder(32, 16);
    auto centres = prototype ? face::initial_prototype_centres(classes, 16, torch::kCPU)
                             : face::initial_class_centres(classes, 16, torch::kCPU);
    auto parameters = embedder->parameters();
    if (!prototype) parameters.push_back(centres);
    torch::optim::Adam adam(parameters, torch::optim::AdamOptions(0.002));
    face::MarginSoftmaxOptions options{MarginKind::cosface, 0.35, 30.0};
    for (int step = 0; step < steps; ++step) {
      auto y = torch::randperm(classes).slice(0, 0, p).repeat_interleave(k);
      auto e = embedder->forward(means.index_select(0, y) + torch::randn({p * k, 32}));
      auto t = face::margin_softmax_loss(e, centres, y, options);
      if (prototype) face::update_prototype_centres(centres, face::class_sums(e, y, classes), 0.5);
      adam.zero_grad();
      t.loss.backward();
      adam.step();
    }
    torch::NoGradGuard no_grad;
    auto y = torch::arange(classes);
    return face::margin_softmax_loss(embedder->forward(means + torch::randn({classes, 32})), centres, y, options)
        .accuracy.item<double>();
  };
  const double learned = accuracy_with(false), prototype = accuracy_with(true);
  EXPECT_GT(prototype, 0.6) << "learned centres: " << learned;
  EXPECT_GT(prototype, learned + 0.3);
}

// The trainer with CosFace: class centres for the training identities only, telemetry of the
// margin softmax, a resume bit for bit (weights and centres), and exports without the centres.
TEST(TrainerMarginSoftmax, CosFaceTrainsResumesExactlyAndExportsTheNetworkOnly) {
  TempDir runs;
  std::vector<std::string> recipe = {"loss.name=cosface", "loss.softmax.scale=16", "length.steps=6",
                                     "schedule.name=cosine", "schedule.warmup_steps=2", "checkpoint.every_steps=0"};
  auto runs_of = face::test::train_whole_and_resumed(runs.path, recipe, 3);
  EXPECT_EQ(face::weights_fingerprint(*runs_of.resumed->model()), face::weights_fingerprint(*runs_of.whole->model()));

  // The checkpoint holds one centre per training identity (24 identities, 30% held out).
  auto checkpoint = runs.path / "whole" / face::checkpoint_name(6);
  torch::serialize::InputArchive archive;
  archive.load_from(checkpoint.string());
  torch::Tensor centres, resumed_centres;
  ASSERT_TRUE(archive.try_read("class_centres", centres));
  torch::serialize::InputArchive resumed;
  resumed.load_from((runs.path / "split" / face::checkpoint_name(6)).string());
  ASSERT_TRUE(resumed.try_read("class_centres", resumed_centres));
  EXPECT_TRUE(torch::equal(centres, resumed_centres));
  EXPECT_EQ(centres.size(0), face::test::json_file(runs.path / "whole" / "run.json")["train_identities"].get<int64_t>());
  EXPECT_EQ(centres.size(1), 128);
  EXPECT_LT(centres.size(0), 24);

  auto train = lines_of(runs.path / "whole" / "metrics.jsonl", "train");
  ASSERT_EQ(train.size(), 6u);
  EXPECT_TRUE(std::isfinite(field(train.back(), "softmax_loss")));
  EXPECT_NEAR(field(train.back(), "loss"), field(train.back(), "softmax_loss"), 1e-5);
  double cosine = field(train.back(), "target_cosine"), angle = field(train.back(), "target_angle_deg");
  EXPECT_GT(angle, 0);
  EXPECT_LT(angle, 180);
  EXPECT_GT(field(train.back(), "train_accuracy"), -1e-9);
  EXPECT_LT(cosine, 1);
  EXPECT_TRUE(std::isnan(field(train.back(), "triplet_loss")));  // the other family: null

  // The export is the network alone: same embeddings from the checkpoint, no centres inside.
  auto loaded = face::load_model_file(checkpoint);
  auto exported = runs.path / "model.pt";
  face::ExportOptions options;
  options.threshold = 1.0;
  face::export_model(loaded.model, exported, options);
  auto module = torch::jit::load(exported.string());
  for (const auto& a : module.named_attributes(/*recurse=*/true))
    EXPECT_EQ(a.name.find("centre"), std::string::npos) << a.name;
  // A triplet checkpoint cannot resume a margin-softmax run (another recipe).
  EXPECT_THROW(face::Trainer(smoke(runs.path, {"run.name=whole", "length.steps=8"}), face::load_pack(pack_file()),
                             {"auto", ""}),
               face::Error);
}

// Prototype centres in the trainer: not trained by the optimiser, unit or still zero, and
// resumed bit for bit with the weights.
TEST(TrainerMarginSoftmax, PrototypeCentresResumeExactly) {
  TempDir runs;
  std::vector<std::string> recipe = {"loss.name=arcface", "loss.softmax.centres=prototype", "loss.softmax.scale=16",
                                     "length.steps=6", "checkpoint.every_steps=0"};
  auto runs_of = face::test::train_whole_and_resumed(runs.path, recipe, 3);
  EXPECT_EQ(face::weights_fingerprint(*runs_of.resumed->model()), face::weights_fingerprint(*runs_of.whole->model()));
  torch::Tensor whole, resumed;
  torch::serialize::InputArchive a, b;
  a.load_from((runs.path / "whole" / face::checkpoint_name(6)).string());
  b.load_from((runs.path / "split" / face::checkpoint_name(6)).string());
  ASSERT_TRUE(a.try_read("class_centres", whole));
  ASSERT_TRUE(b.try_read("class_centres", resumed));
  EXPECT_TRUE(torch::equal(whole, resumed));
  auto norms = whole.norm(2, 1);
  auto visited = norms > 0;
  EXPECT_GT(visited.sum().item<int64_t>(), 4);  // 6 steps of P = 4 identities
  EXPECT_TRUE(torch::allclose(norms.masked_select(visited), torch::ones({visited.sum().item<int64_t>()}), 1e-5, 1e-5));
  auto train = lines_of(runs.path / "whole" / "metrics.jsonl", "train");
  ASSERT_EQ(train.size(), 6u);
  EXPECT_TRUE(std::isfinite(field(train.back(), "softmax_loss")));
  EXPECT_GT(field(train.back(), "embedding_spread"), 0.05);  // no collapse onto the centres
}

TEST(MarginSoftmaxLoss, TeacherCentresAreTheNormalisedClassMeansOfTheTeachersRows) {
  auto rows = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {1.0f, 0.0f}});
  auto centres = face::teacher_class_centres(rows, torch::tensor({0, 0, 1}, torch::kLong), 2);
  const float h = std::sqrt(0.5f);
  EXPECT_TRUE(torch::allclose(centres, torch::tensor({{h, h}, {1.0f, 0.0f}}), 1e-6, 1e-6)) << centres;
  EXPECT_FALSE(centres.requires_grad());
}

// Mean of `name` over the first and the last `n` lines.
std::pair<double, double> early_and_late(const std::vector<std::string>& lines, const std::string& name, size_t n) {
  double early = 0, late = 0;
  for (size_t i = 0; i < n; ++i) early += field(lines[i], name), late += field(lines[lines.size() - 1 - i], name);
  return {early / n, late / n};
}

// The weak check above (ranges only) would pass a run that learns nothing: here CosFace with
// learned centres must bring the faces closer to their class centres on the synthetic pack.
TEST(TrainerMarginSoftmax, CosFaceLearnsOnASmallPack) {
  TempDir runs;
  auto config = smoke(runs.path, {"run.name=learn", "loss.name=cosface", "loss.softmax.scale=16", "length.steps=40",
                                  "checkpoint.every_steps=0"});
  face::Trainer trainer(config, face::load_pack(pack_file()));
  ASSERT_EQ(trainer.train(), face::Trainer::Outcome::finished);
  auto train = lines_of(runs.path / "learn" / "metrics.jsonl", "train");
  ASSERT_EQ(train.size(), 40u);
  auto [early, late] = early_and_late(train, "softmax_loss", 8);
  EXPECT_LT(late, early * 0.9) << "softmax loss " << early << " -> " << late;
  auto [cos_early, cos_late] = early_and_late(train, "target_cosine", 8);
  EXPECT_GT(cos_late, cos_early + 0.05) << "target cosine " << cos_early << " -> " << cos_late;
}

// Teacher centres (loss.softmax.centres: teacher): unit rows, one per training identity, not
// trained (the same in every checkpoint), and the student moves toward them.
TEST(TrainerMarginSoftmax, TeacherCentresStayFixedAndTheStudentMovesTowardThem) {
  TempDir runs;
  face::test::ProjectionTeacher teacher;
  face::ensure_teacher_targets(teacher, face::load_pack(pack_file()), face::default_targets_path(pack_file()));
  auto config = smoke(runs.path, {"run.name=teacher", "loss.name=cosface", "loss.softmax.centres=teacher",
                                  "loss.softmax.scale=16", "model.embedding_dim=16", "length.steps=30",
                                  "checkpoint.every_steps=10", "checkpoint.keep_last=5"});
  face::Trainer trainer(config, face::load_pack(pack_file()));
  ASSERT_EQ(trainer.train(), face::Trainer::Outcome::finished);
  torch::Tensor first, last;
  torch::serialize::InputArchive a, b;
  a.load_from((runs.path / "teacher" / face::checkpoint_name(10)).string());
  b.load_from((runs.path / "teacher" / face::checkpoint_name(30)).string());
  ASSERT_TRUE(a.try_read("class_centres", first));
  ASSERT_TRUE(b.try_read("class_centres", last));
  EXPECT_TRUE(torch::equal(first, last));
  EXPECT_EQ(first.size(1), 16);
  EXPECT_TRUE(torch::allclose(first.norm(2, 1), torch::ones({first.size(0)}), 1e-5, 1e-5));
  auto train = lines_of(runs.path / "teacher" / "metrics.jsonl", "train");
  ASSERT_EQ(train.size(), 30u);
  auto [early, late] = early_and_late(train, "target_cosine", 6);
  EXPECT_GT(late, early + 0.05) << "target cosine " << early << " -> " << late;
  // Without teacher targets the run stops at once and says what it needs.
  auto missing = runs / "none.teacher";
  try {
    face::Trainer t(smoke(runs.path, {"run.name=x", "loss.name=arcface", "loss.softmax.centres=teacher",
                                      "data.teacher_targets=" + missing.string()}),
                    face::load_pack(pack_file()));
    FAIL() << "teacher centres without targets were accepted";
  } catch (const face::Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

TEST(TrainerMarginSoftmax, ConfigChecksTheLossAndItsRanges) {
  TempDir runs;
  EXPECT_THROW(smoke(runs.path, {"loss.name=sphereface"}), face::Error);
  EXPECT_THROW(smoke(runs.path, {"loss.name=arcface", "loss.arcface.margin=2"}), face::Error);
  EXPECT_THROW(smoke(runs.path, {"loss.name=cosface", "loss.softmax.scale=0"}), face::Error);
  EXPECT_THROW(smoke(runs.path, {"loss.name=cosface", "loss.softmax.weight=0"}), face::Error);  // nothing to learn
  // Keys added later enter the fingerprint only away from their defaults (old runs resume).
  auto a = smoke(runs.path, {}), b = smoke(runs.path, {"loss.softmax.scale=30"});
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.fingerprint(), smoke(runs.path, {"loss.name=cosface"}).fingerprint());
  EXPECT_THROW(smoke(runs.path, {"loss.name=cosface", "loss.softmax.centres=mean"}), face::Error);
  EXPECT_THROW(smoke(runs.path, {"loss.name=cosface", "loss.softmax.prototype_momentum=1"}), face::Error);
  EXPECT_NE(smoke(runs.path, {"loss.name=cosface"}).fingerprint(),
            smoke(runs.path, {"loss.name=cosface", "loss.softmax.centres=prototype"}).fingerprint());
  EXPECT_NE(smoke(runs.path, {"loss.name=arcface"}).fingerprint(),
            smoke(runs.path, {"loss.name=arcface", "loss.arcface.easy_margin=true"}).fingerprint());
}

}  // namespace
