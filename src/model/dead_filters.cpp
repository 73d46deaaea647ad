#include "model/dead_filters.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn.h>

#include <cmath>
#include <functional>

namespace face {
namespace nn = torch::nn;

namespace {

// Calls `visit` on every Conv2d that a BatchNorm2d directly follows in some Sequential of `model`.
void for_each_conv_bn(const nn::Module& model, const std::function<void(nn::Conv2dImpl&, nn::BatchNorm2dImpl&)>& visit) {
  for (const auto& module : model.modules(/*include_self=*/true)) {
    auto* sequential = module->as<nn::Sequential>();
    if (sequential == nullptr) continue;
    for (size_t i = 0; i + 1 < sequential->size(); ++i) {
      auto* conv = sequential->ptr(i)->as<nn::Conv2d>();
      auto* bn = sequential->ptr(i + 1)->as<nn::BatchNorm2d>();
      if (conv != nullptr && bn != nullptr) visit(*conv, *bn);
    }
  }
}

// The output filters of `conv` whose every weight is below `tolerance` in magnitude: a bool (out).
torch::Tensor dead_mask(const nn::Conv2dImpl& conv, double tolerance) {
  return conv.weight.detach().abs().flatten(1).amax(1).lt(tolerance).cpu();
}

DeadFilters scan(const nn::Module& model, double tolerance,
                 const std::function<void(nn::Conv2dImpl&, nn::BatchNorm2dImpl&, const torch::Tensor&)>& on_dead) {
  DeadFilters found;
  for_each_conv_bn(model, [&](nn::Conv2dImpl& conv, nn::BatchNorm2dImpl& bn) {
    auto dead = dead_mask(conv, tolerance);
    const int64_t n = dead.sum().item<int64_t>();
    if (n == 0) return;
    found.filters += n;
    found.weights += n * conv.weight[0].numel();
    ++found.units;
    if (on_dead) on_dead(conv, bn, dead);
  });
  return found;
}

}  // namespace

DeadFilters count_dead_filters(const nn::Module& model, double tolerance) { return scan(model, tolerance, nullptr); }

DeadFilters revive_dead_filters(nn::Module& model, uint64_t seed, double tolerance) {
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return scan(model, tolerance, [&](nn::Conv2dImpl& conv, nn::BatchNorm2dImpl& bn, const torch::Tensor& dead) {
    const auto& w = conv.weight;
    // Drawn on the CPU from our own generator, as initialise_weights draws (model/nn4.cpp).
    const double fan_out = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
    auto fresh = torch::empty(w.sizes(), torch::kFloat32).normal_(0.0, std::sqrt(2.0 / fan_out), generator);
    auto on_device = dead.to(w.device());
    w.copy_(torch::where(on_device.view({-1, 1, 1, 1}), fresh.to(w.device(), w.scalar_type()), w));
    if (conv.bias.defined()) conv.bias.masked_fill_(on_device, 0.0);
    bn.weight.masked_fill_(on_device, 1.0);
    bn.bias.masked_fill_(on_device, 0.0);
    bn.running_mean.masked_fill_(on_device, 0.0);
    bn.running_var.masked_fill_(on_device, 1.0);
  });
}

}  // namespace face
