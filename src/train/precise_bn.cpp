#include "train/precise_bn.h"

#include <torch/torch.h>

#include <optional>

#include "train/network_input.h"

namespace face {

void precise_batch_norm(Nn4& model, const torch::Tensor& images, const std::vector<int64_t>& rows,
                        const torch::Device& device, const PreciseBatchNormOptions& options) {
  const int64_t batches = options.batches, b = options.batch_size;
  if (batches == 0) return;
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, std::optional<double>>> norms;
  for (auto& m : model->modules(/*include_self=*/false))
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      norms.emplace_back(bn, bn->options.momentum());
      bn->options.momentum(std::nullopt);  // cumulative average
      bn->reset_running_stats();
    }
  torch::NoGradGuard no_grad;
  model->train();
  const int64_t n = static_cast<int64_t>(rows.size());
  for (int64_t i = 0; i < batches && i * b < n; ++i) {
    std::vector<int64_t> chunk(rows.begin() + i * b, rows.begin() + std::min(n, (i + 1) * b));
    auto x = network_input(images.index_select(0, torch::tensor(chunk, torch::kLong)).to(device));
    AutocastScope autocast(options.precision, device);
    model->forward(x);
  }
  for (auto& [bn, momentum] : norms) bn->options.momentum(momentum);
}

void PreciseBatchNormHook::run(Trainer& t) { precise_batch_norm(t.model(), images_, rows_, t.device(), options_); }

}  // namespace face
