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

// Adam, AdamW, Adagrad or SGD with momentum, from the config, over `parameters`.
//
// Weight decay: Adam, Adagrad and SGD add weight_decay * w to the gradient (L2). Inside Adam that
// term is divided by the running gradient scale, so a weight whose own gradient is near zero
// (a unit the network stopped using) is pulled to zero at about lr per step whatever the decay:
// the dead 5a/5b convolutions of the third release, whose weights ended as denormals (#24/#25).
// AdamW (Loshchilov and Hutter 2019) decouples it: w -= lr * weight_decay * w, beside the Adam
// step, so such a weight shrinks only by the factor (1 - lr * weight_decay) a step. Its useful
// weight_decay values are therefore ~100x Adam's L2 ones (1e-2 rather than 1e-4).
std::unique_ptr<torch::optim::Optimizer> make_optimiser(const OptimiserConfig& config,
                                                       std::vector<torch::Tensor> parameters);

// Learning rate for (0-based) `step` of `total_steps`.
double scheduled_lr(const OptimiserConfig& optimiser, const ScheduleConfig& schedule, int64_t step,
                    int64_t total_steps);

// Sets the learning rate of every parameter group.
void set_lr(torch::optim::Optimizer& optimiser, double lr);

}  // namespace face
