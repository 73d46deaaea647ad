#include "train/triplet_head.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "train/distributed.h"
#include "train/miner.h"
#include "train/triplet_loss.h"

namespace face {

namespace {

class TripletHead : public LossHead {
 public:
  explicit TripletHead(const LossHeadContext& c)
      : miner_{c.config.mining.strategy, c.config.mining.fallback, c.config.loss.margin},
        loss_{c.config.loss.margin, /*average_over_active=*/c.config.mining.strategy == MiningStrategy::batch_all},
        weight_(c.config.loss.triplet_weight),
        distributed_(c.config.distributed.mine_global ? c.distributed : nullptr) {}

  LossTerm forward(const LossHeadInput& in, StepMetrics& metrics) override {
    MeasuredOnlyGuard measured(weight_ == 0);  // distillation alone: no graph for this term
    auto embeddings = in.labelled();
    auto labels = in.labels;
    double gradient_scale = 1;
    if (distributed_) {  // mine across the global batch (train/distributed.h: gather_batch)
      auto global = gather_batch(*distributed_, embeddings, labels);
      embeddings = global.embeddings, labels = global.labels, gradient_scale = global.loss_scale;
    }
    auto distances = squared_distances(embeddings);
    auto d = distances.detach();
    auto mask = mine_triplets(d, labels, miner_);
    auto triplet = triplet_loss_from_distances(distances, mask, loss_);
    LossTerm term = weighted_term(triplet, weight_);
    term.gradient_scale = gradient_scale;
    torch::NoGradGuard no_grad;
    auto count = mask.sum().to(torch::kFloat32);
    auto safe = count.clamp_min(1);
    metrics.put("triplets", count);
    metrics.put("active_fraction", (mask & (triplet_margins(d, loss_.margin) > 0)).sum() / safe);
    metrics.put("d_ap", (d.unsqueeze(2) * mask).sum() / safe);
    metrics.put("d_an", (d.unsqueeze(1) * mask).sum() / safe);
    metrics.put("triplet_loss", triplet);
    term.teaches = count > 0;
    return term;
  }

  std::string note(const std::map<std::string, double>& m) const override {
    return fmt::format("triplets {:.0f} active {:.2f}", m.at("triplets"), m.at("active_fraction"));
  }

 private:
  MinerOptions miner_;
  TripletLossOptions loss_;
  double weight_;
  Distributed* distributed_;
};

}  // namespace

LossHeadRegistration triplet_head_registration() {
  return {"triplet",
          {"triplets", "active_fraction", "d_ap", "d_an", "triplet_loss"},
          [](const TrainConfig& c) { return !c.loss.margin_softmax(); },
          [](const LossHeadContext& c) { return std::make_unique<TripletHead>(c); }};
}

}  // namespace face
