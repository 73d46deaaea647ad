// The learning-rate schedule by value, and the optimiser the config names.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <iomanip>

#include "train/optimiser.h"

using namespace face;

namespace {

OptimiserConfig at_lr(double lr) {
  OptimiserConfig o;
  o.lr = lr;
  return o;
}

ScheduleConfig schedule(ScheduleKind name, int64_t warmup = 0) {
  ScheduleConfig s;
  s.name = name;
  s.warmup_steps = warmup;
  return s;
}

}  // namespace

TEST(ScheduledLr, WarmupRampsLinearlyToThePeakThenConstantStays) {
  auto s = schedule(ScheduleKind::constant, 4);
  // (step + 1) / warmup_steps of the peak during warm-up: 0.25, 0.5, 0.75, 1 of 0.02.
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.02), s, 0, 100), 0.005);
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.02), s, 1, 100), 0.01);
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.02), s, 3, 100), 0.02);
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.02), s, 4, 100), 0.02);
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.02), s, 99, 100), 0.02);
}

TEST(ScheduledLr, StepDecaysByGammaEveryStepSizeStepsAfterWarmup) {
  auto s = schedule(ScheduleKind::step, 2);
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.1), s, 2, 100), 0.1);     // first step after warm-up
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.1), s, 11, 100), 0.1);    // 9 steps after
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.1), s, 12, 100), 0.05);   // 10 after: one decay
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(0.1), s, 32, 100), 0.0125); // 30 after: three
}

TEST(ScheduledLr, CosineFallsFromThePeakToTheFloorOverTheStepsAfterWarmup) {
  auto s = schedule(ScheduleKind::cosine, 10);
  s.min_lr_ratio = 0.1;
  const double lr = 1.0;
  // 90 steps after warm-up: t = (step - 10) / 90.
  EXPECT_DOUBLE_EQ(scheduled_lr(at_lr(lr), s, 10, 100), 1.0);
  EXPECT_NEAR(scheduled_lr(at_lr(lr), s, 55, 100), 0.1 + 0.9 * 0.5, 1e-12);  // halfway: cos(pi/2) = 0
  EXPECT_NEAR(scheduled_lr(at_lr(lr), s, 40, 100), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI / 3)), 1e-12);
  EXPECT_NEAR(scheduled_lr(at_lr(lr), s, 100, 100), 0.1, 1e-12);  // the floor at the end ...
  EXPECT_NEAR(scheduled_lr(at_lr(lr), s, 150, 100), 0.1, 1e-12);  // ... and past it (an extended run)
  // Monotonic after warm-up.
  for (int64_t step = 11; step < 100; ++step)
    EXPECT_LT(scheduled_lr(at_lr(lr), s, step, 100), scheduled_lr(at_lr(lr), s, step - 1, 100)) << step;
}

TEST(Optimiser, SetLrReachesTheOptimiserAndTheNamedOneIsMade) {
  auto w = torch::zeros({3}, torch::requires_grad());
  auto o = at_lr(0.5);
  o.name = OptimiserKind::sgd;
  o.momentum = 0;
  auto sgd = make_optimiser(o, {w});
  set_lr(*sgd, 0.25);
  w.mutable_grad() = torch::ones({3});
  sgd->step();
  // Plain SGD: w -= lr * grad.
  EXPECT_TRUE(torch::allclose(w.detach(), torch::full({3}, -0.25)));
  o.name = OptimiserKind::adam;
  EXPECT_NE(dynamic_cast<torch::optim::Adam*>(make_optimiser(o, {w}).get()), nullptr);
  o.name = OptimiserKind::adagrad;
  EXPECT_NE(dynamic_cast<torch::optim::Adagrad*>(make_optimiser(o, {w}).get()), nullptr);
  o.name = OptimiserKind::adamw;
  EXPECT_NE(dynamic_cast<torch::optim::AdamW*>(make_optimiser(o, {w}).get()), nullptr);
}

// Why adamw exists: a weight with no gradient of its own (a unit the network stopped using).
// Adam's L2 decay enters the gradient and is normalised by it, so the weight moves by about lr
// per step toward zero; AdamW shrinks it only by lr * weight_decay * w.
TEST(Optimiser, AdamWDecaysAnUnusedWeightByLrTimesDecayWhereAdamPullsItByLr) {
  auto step_unused_weight = [](OptimiserKind kind) {
    auto w = torch::ones({4}, torch::requires_grad());
    auto o = at_lr(0.01);
    o.name = kind;
    o.weight_decay = 1e-4;
    auto opt = make_optimiser(o, {w});
    for (int i = 0; i < 10; ++i) {
      w.mutable_grad() = torch::zeros({4});
      opt->step();
    }
    return w.detach();
  };
  auto adam = step_unused_weight(OptimiserKind::adam);
  auto adamw = step_unused_weight(OptimiserKind::adamw);
  // Adam: ten steps of about lr = 0.01 each (the decay term over its own scale is ~1).
  EXPECT_TRUE(torch::allclose(adam, torch::full({4}, 1 - 10 * 0.01), 0, 1e-3)) << adam;
  // AdamW: (1 - lr * decay)^10 = 1 - 1e-5, the Adam part being zero for a zero gradient (to
  // float32's rounding of ten products: 1e-6, a tenth of the decay, so no decay at all fails).
  EXPECT_TRUE(torch::allclose(adamw, torch::full({4}, std::pow(1 - 0.01 * 1e-4, 10)), 0, 1e-6)) << std::setprecision(10) << adamw[0].item<double>();
}
