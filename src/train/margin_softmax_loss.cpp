#include "train/margin_softmax_loss.h"

#include <torch/torch.h>

#include <cmath>

#include "util/error.h"

namespace face {

MarginSoftmaxTerms margin_softmax_loss(const torch::Tensor& embeddings, const torch::Tensor& centres,
                                       const torch::Tensor& classes, const MarginSoftmaxOptions& o) {
  namespace F = torch::nn::functional;
  TORCH_CHECK(embeddings.dim() == 2 && centres.dim() == 2 && embeddings.size(1) == centres.size(1),
              "margin softmax: embeddings ", embeddings.sizes(), " and centres ", centres.sizes(), " do not match");
  auto unit = F::NormalizeFuncOptions().dim(1);
  auto cosine = F::normalize(embeddings, unit).matmul(F::normalize(centres, unit).t());  // (B, classes)
  auto y = classes.view({-1, 1});
  auto target = cosine.gather(1, y).squeeze(1);  // cos(theta_y)
  torch::Tensor penalised;
  const double m = o.margin;
  if (o.kind == MarginKind::cosface) {
    penalised = target - m;
  } else {
    // cos(theta + m) = cos(theta) cos(m) - sin(theta) sin(m); the clamp keeps sqrt's gradient finite at |cos| = 1.
    auto sine = (1 - target * target).clamp_min(1e-12).sqrt();
    auto arc = target * std::cos(m) - sine * std::sin(m);
    if (o.easy_margin)
      penalised = torch::where(target > 0, arc, target);
    else  // theta > pi - m  <=>  cos(theta) < cos(pi - m)
      penalised = torch::where(target > std::cos(M_PI - m), arc, target - std::sin(M_PI - m) * m);
  }
  MarginSoftmaxTerms t;
  t.logits = cosine.scatter(1, y, penalised.unsqueeze(1)) * o.scale;
  t.loss = F::cross_entropy(t.logits, classes);
  torch::NoGradGuard no_grad;
  t.target_cosine = target.mean();
  t.target_angle = target.clamp(-1, 1).acos().mean() * (180.0 / M_PI);
  t.accuracy = (cosine.argmax(1) == classes).to(torch::kFloat32).mean();
  return t;
}

torch::Tensor initial_class_centres(int64_t classes, int64_t dim, const torch::Device& device) {
  return (torch::randn({classes, dim}) * 0.01).to(device).set_requires_grad(true);
}

ClassSums class_sums(const torch::Tensor& embeddings, const torch::Tensor& classes, int64_t num_classes) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  auto unit = F::normalize(embeddings.detach().to(torch::kFloat32), F::NormalizeFuncOptions().dim(1));
  ClassSums s;
  s.sums = torch::zeros({num_classes, unit.size(1)}, unit.options()).index_add_(0, classes, unit);
  s.counts = torch::zeros({num_classes, 1}, unit.options()).index_add_(0, classes, torch::ones({unit.size(0), 1}, unit.options()));
  return s;
}

torch::Tensor teacher_class_centres(const torch::Tensor& teacher_rows, const torch::Tensor& classes, int64_t num_classes) {
  namespace F = torch::nn::functional;
  auto s = class_sums(teacher_rows, classes, num_classes);
  return F::normalize(s.sums / s.counts.clamp_min(1), F::NormalizeFuncOptions().dim(1));
}

void update_prototype_centres(torch::Tensor& centres, const ClassSums& batch, double momentum) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  auto unit = F::NormalizeFuncOptions().dim(1);
  auto mean = F::normalize(batch.sums, unit);  // the direction of the mean; zero rows stay zero
  auto visited_before = centres.abs().sum(1, /*keepdim=*/true) > 0;
  auto blended = torch::where(visited_before, momentum * centres + (1 - momentum) * mean, mean);
  auto visited_now = (batch.counts > 0) & batch.sums.isfinite().all(1, /*keepdim=*/true);
  centres.copy_(torch::where(visited_now, F::normalize(blended, unit), centres));
}

torch::Tensor initial_prototype_centres(int64_t classes, int64_t dim, const torch::Device& device) {
  return torch::zeros({classes, dim}, torch::TensorOptions(device));
}

MarginKind margin_kind(const std::string& name) {
  if (name == "cosface") return MarginKind::cosface;
  if (name == "arcface") return MarginKind::arcface;
  fail("'{}' is not a margin-softmax loss (cosface or arcface)", name);
}

}  // namespace face
