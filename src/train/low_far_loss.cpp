#include "train/low_far_loss.h"

#include <torch/torch.h>

#include <limits>

namespace face {

std::vector<double> far_levels(double strictest_far) {
  std::vector<double> levels;
  // Decades above the strictest level (with slack for rounding: 1e-3 is not also 0.00099...).
  for (double f = 0.1; f > strictest_far * 1.001; f /= 10) levels.push_back(f);
  levels.push_back(strictest_far);
  return levels;
}

void update_thresholds(torch::Tensor& running, const torch::Tensor& batch, double momentum) {
  if (!running.defined()) {
    running = batch.detach().clone();
    return;
  }
  running.mul_(momentum).add_(batch.detach(), 1 - momentum);
}

PairMasks pair_masks(const torch::Tensor& labels, int64_t rows) {
  const auto device = labels.device();
  const int64_t labelled = labels.size(0);
  auto upper = torch::ones({rows, rows}, torch::TensorOptions().dtype(torch::kBool).device(device)).triu(1);
  auto same = torch::zeros({rows, rows}, upper.options());
  same.slice(0, 0, labelled).slice(1, 0, labelled).copy_(labels.unsqueeze(1) == labels.unsqueeze(0));
  return {upper & same, upper & ~same};
}

torch::Tensor negative_thresholds(const torch::Tensor& similarities, const torch::Tensor& negative,
                                  const std::vector<double>& levels) {
  torch::NoGradGuard no_grad;
  // NaN marks the pairs that are not negative, which nanquantile skips: no data-dependent shape.
  auto masked = similarities.detach().masked_fill(~negative, std::numeric_limits<float>::quiet_NaN());
  std::vector<double> q;
  for (double f : levels) q.push_back(1 - f);
  return torch::nanquantile(masked.flatten(), torch::tensor(q, masked.options()), std::nullopt, false, "linear");
}

LowFarTerms low_far_loss(const torch::Tensor& student, const torch::Tensor& teacher, const PairMasks& masks,
                         const torch::Tensor& student_thresholds, const torch::Tensor& teacher_thresholds,
                         double temperature) {
  const auto& s = student;
  auto t = teacher.detach();
  // mean_k sigmoid((x - tau_k) / temperature), over a trailing axis of levels.
  auto decision = [temperature](const torch::Tensor& x, const torch::Tensor& tau) {
    return torch::sigmoid((x.unsqueeze(-1) - tau) / temperature).mean(-1);
  };
  // Hard negatives: above the loosest (first) threshold of either model.
  auto hard = masks.negative & ((s.detach() >= student_thresholds[0]) | (t >= teacher_thresholds[0]));
  auto selected = masks.positive | hard;
  // Masked sums rather than masked_select: no shape that depends on the data, so no host sync.
  auto weight = selected.to(s.scalar_type());
  auto count = weight.sum();
  auto gap = (decision(s, student_thresholds) - decision(t, teacher_thresholds)) * weight;
  LowFarTerms terms;
  terms.selected_pairs = count.detach();
  terms.loss = gap.pow(2).sum() / count.clamp_min(1);
  terms.decision_gap = (gap.detach().abs().sum() / count.clamp_min(1)).detach();
  return terms;
}

}  // namespace face
