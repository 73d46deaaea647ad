#include "train/distillation_head.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "train/distillation_loss.h"

namespace face {

namespace {

class DistillationHead : public LossHead {
 public:
  explicit DistillationHead(const LossHeadContext& c)
      : options_{c.config.loss.distill.weight, c.config.loss.distill.direct_weight,
                 c.config.loss.distill.relational_weight} {}

  LossTerm forward(const LossHeadInput& in, StepMetrics& metrics) override {
    auto terms = distillation_loss(in.embeddings, in.targets, options_);
    metrics.put("distill_direct", terms.direct);
    metrics.put("distill_relational", terms.relational);
    LossTerm term;
    term.loss = terms.total;  // already weighted (loss.distill.weight)
    return term;
  }

  std::string note(const std::map<std::string, double>& m) const override {
    return fmt::format("distill {:.4f}/{:.4f}", m.at("distill_direct"), m.at("distill_relational"));
  }

 private:
  DistillationOptions options_;
};

}  // namespace

LossHeadRegistration distillation_head_registration() {
  return {"distillation",
          {"distill_direct", "distill_relational"},
          [](const TrainConfig& c) { return c.loss.distill.weight > 0; },
          [](const LossHeadContext& c) { return std::make_unique<DistillationHead>(c); }};
}

}  // namespace face
