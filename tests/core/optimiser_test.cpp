// The learning-rate schedule by value, and the optimiser the config names.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

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
}
