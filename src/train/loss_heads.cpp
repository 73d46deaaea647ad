// The registry of loss heads: the one place a new loss is named.
#include <torch/torch.h>

#include "train/distillation_head.h"
#include "train/loss_head.h"
#include "train/low_far_head.h"
#include "train/margin_softmax_head.h"
#include "train/triplet_head.h"

namespace face {

const std::vector<LossHeadRegistration>& loss_head_registry() {
  // Identity terms first, then distillation: the order of the loss's sum, as before heads existed.
  static const std::vector<LossHeadRegistration> registry = {
      triplet_head_registration(),
      margin_softmax_head_registration(),
      distillation_head_registration(),
      low_far_head_registration(),
  };
  return registry;
}

std::vector<std::unique_ptr<LossHead>> make_loss_heads(const LossHeadContext& context) {
  std::vector<std::unique_ptr<LossHead>> heads;
  for (const auto& r : loss_head_registry())
    if (r.wanted(context.config)) heads.push_back(r.make(context));
  return heads;
}

std::vector<std::string> loss_telemetry_keys() {
  std::vector<std::string> keys;
  for (const auto& r : loss_head_registry()) keys.insert(keys.end(), r.telemetry.begin(), r.telemetry.end());
  return keys;
}

torch::Tensor LossHeadInput::labelled() const {
  return embeddings.size(0) == labels.size(0) ? embeddings : embeddings.slice(0, 0, labels.size(0));
}

LossTerm weighted_term(const torch::Tensor& unweighted, double weight) {
  LossTerm term;
  if (weight != 0) term.loss = weight == 1 ? unweighted : unweighted * weight;
  return term;
}

}  // namespace face
