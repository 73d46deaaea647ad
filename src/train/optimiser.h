// optimiser.h: the optimisers a config can name, and the learning-rate schedule.
//
// The schedule is a pure function of the step, so a resumed run needs only the step to continue
// it exactly (no scheduler object with state of its own):
//   warm-up   lr * (step + 1) / warmup_steps for the first warmup_steps steps
//   constant  lr
//   step      lr * gamma^floor((step - warmup) / step_size)
//   cosine    from lr down to lr * min_lr_ratio over the steps after warm-up (half a cosine)
#pragma once
#include <torch/optim.h>

#include <memory>
#include <vector>

#include "train/config.h"

namespace face {

// Adam, Adagrad or SGD with momentum, from the config, over `parameters`.
std::unique_ptr<torch::optim::Optimizer> make_optimiser(const OptimiserConfig& config,
                                                       std::vector<torch::Tensor> parameters);

// Learning rate for (0-based) `step` of `total_steps`.
double scheduled_lr(const OptimiserConfig& optimiser, const ScheduleConfig& schedule, int64_t step,
                    int64_t total_steps);

// Sets the learning rate of every parameter group.
void set_lr(torch::optim::Optimizer& optimiser, double lr);

}  // namespace face
