#include "train/distillation_loss.h"

#include <torch/torch.h>

namespace face {

DistillationTerms distillation_loss(const torch::Tensor& student, const torch::Tensor& targets,
                                    const DistillationOptions& o) {
  TORCH_CHECK(student.sizes() == targets.sizes(), "distillation: student ", student.sizes(), " and targets ",
              targets.sizes(), " differ");
  DistillationTerms t;
  t.direct = (1 - (student * targets).sum(1)).mean();
  const int64_t b = student.size(0);
  if (b > 1) {
    auto off_diagonal = ~torch::eye(b, torch::TensorOptions().dtype(torch::kBool).device(student.device()));
    auto gap = student.matmul(student.t()) - targets.matmul(targets.t());
    t.relational = gap.pow(2).masked_select(off_diagonal).mean();
  } else {
    t.relational = torch::zeros({}, student.options());
  }
  t.total = o.weight * (o.direct_weight * t.direct + o.relational_weight * t.relational);
  return t;
}

torch::Tensor centre_targets(const torch::Tensor& targets, const torch::Tensor& mean) {
  namespace F = torch::nn::functional;
  return F::normalize(targets - mean.view({1, -1}), F::NormalizeFuncOptions().dim(1));
}

}  // namespace face
