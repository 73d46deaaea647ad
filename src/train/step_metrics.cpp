#include "train/step_metrics.h"

#include <torch/torch.h>

namespace face {

void StepMetrics::put(const std::string& name, const torch::Tensor& value) {
  TORCH_CHECK(value.dim() == 0, "step metric '", name, "' must be a scalar, got ", value.sizes());
  for (auto& [key, stored] : values_)
    if (key == name) {
      stored = value.detach();
      return;
    }
  values_.emplace_back(name, value.detach());
}

torch::Tensor StepMetrics::get(const std::string& name) const {
  for (const auto& [key, stored] : values_)
    if (key == name) return stored;
  return {};
}

}  // namespace face
