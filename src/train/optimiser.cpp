#include "train/optimiser.h"

#include <cmath>

#include "util/error.h"

namespace face {

std::unique_ptr<torch::optim::Optimizer> make_optimiser(const OptimiserConfig& c, std::vector<torch::Tensor> params) {
  using namespace torch::optim;
  switch (c.name) {
    case OptimiserKind::adam:
      return std::make_unique<Adam>(
          params, AdamOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(c.weight_decay));
    case OptimiserKind::adamw:
      return std::make_unique<AdamW>(
          params, AdamWOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(c.weight_decay));
    case OptimiserKind::adagrad:
      return std::make_unique<Adagrad>(params, AdagradOptions(c.lr).eps(c.eps).weight_decay(c.weight_decay));
    case OptimiserKind::sgd:
      return std::make_unique<SGD>(params, SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay));
  }
  fail("optimiser {} is unknown", static_cast<int>(c.name));
}

double scheduled_lr(const OptimiserConfig& o, const ScheduleConfig& s, int64_t step, int64_t total_steps) {
  if (step < s.warmup_steps) return o.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  int64_t after = step - s.warmup_steps;
  if (s.name == ScheduleKind::step) return o.lr * std::pow(s.gamma, static_cast<double>(after / s.step_size));
  if (s.name == ScheduleKind::cosine) {
    int64_t span = std::max<int64_t>(total_steps - s.warmup_steps, 1);
    double t = std::min(1.0, static_cast<double>(after) / static_cast<double>(span));
    return o.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * t)));
  }
  return o.lr;
}

void set_lr(torch::optim::Optimizer& optimiser, double lr) {
  for (auto& group : optimiser.param_groups()) group.options().set_lr(lr);
}

}  // namespace face
