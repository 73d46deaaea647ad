#include "train/margin_softmax_head.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "train/distributed.h"
#include "train/margin_softmax_loss.h"
#include "util/error.h"

namespace face {

namespace {

class MarginSoftmaxHead : public LossHead {
 public:
  explicit MarginSoftmaxHead(const LossHeadContext& c)
      : name_(choice_name(c.config.loss.name)), distributed_(c.distributed) {
    const auto& l = c.config.loss;
    const bool arc = l.name == IdentityLoss::arcface;
    options_ = {arc ? MarginKind::arcface : MarginKind::cosface, arc ? l.arcface.margin : l.cosface.margin,
                l.softmax.scale, arc && l.arcface.easy_margin};
    weight_ = l.softmax.weight;
    prototype_ = l.softmax.centres == ClassCentres::prototype;
    momentum_ = l.softmax.prototype_momentum;
    const auto* labels = c.pack.labels.data_ptr<int64_t>();
    std::vector<int64_t> class_of(c.pack.identities.size(), -1);
    for (auto i : c.train_images) class_of[labels[i]] = 0;
    int64_t classes = 0;
    for (auto& k : class_of)
      if (k == 0) k = classes++;
    class_of_label_ = torch::tensor(class_of, torch::kLong).to(c.device);
    const int64_t dim = c.config.model.embedding_dim;
    const char* kind = "learned";
    if (prototype_) {
      centres_ = initial_prototype_centres(classes, dim, c.device);
      kind = "running class means";
    } else if (l.softmax.centres == ClassCentres::teacher) {
      if (!c.teacher_targets.defined())
        fail("loss.softmax.centres: teacher needs the teacher's targets of the pack (data.teacher_targets)");
      auto images = torch::tensor(c.train_images, torch::kLong).to(c.device);
      auto image_classes = class_of_label_.index_select(0, c.pack.labels.to(c.device).index_select(0, images));
      centres_ = teacher_class_centres(c.teacher_targets.index_select(0, images), image_classes, classes);
      kind = "the teacher's class means, fixed";
    } else {
      centres_ = initial_class_centres(classes, dim, c.device);
    }
    if (c.is_main) fmt::print("{}: {} class centres (training identities) x {}, {}\n", name_, classes, dim, kind);
  }

  LossTerm forward(const LossHeadInput& in, StepMetrics& metrics) override {
    MeasuredOnlyGuard measured(weight_ == 0);
    auto embeddings = in.labelled();
    auto classes = class_of_label_.index_select(0, in.labels);
    auto terms = margin_softmax_loss(embeddings, centres_, classes, options_);
    if (prototype_) {
      // After the loss, so that it compares faces with centres made from other batches (the
      // loss's graph holds the normalised centres, not this tensor, so the update is safe here).
      auto batch = class_sums(embeddings, classes, centres_.size(0));
      if (distributed_) {  // every rank applies the same update
        distributed_->all_reduce_sum(batch.sums);
        distributed_->all_reduce_sum(batch.counts);
      }
      update_prototype_centres(centres_, batch, momentum_);
    }
    metrics.put("softmax_loss", terms.loss);
    metrics.put("target_cosine", terms.target_cosine);
    metrics.put("target_angle_deg", terms.target_angle);
    metrics.put("train_accuracy", terms.accuracy);
    return weighted_term(terms.loss, weight_);
  }

  std::vector<torch::Tensor> parameters() override {
    if (centres_.requires_grad()) return {centres_};
    return {};
  }

  void save(torch::serialize::OutputArchive& archive) const override {
    archive.write("class_centres", centres_.detach());
  }

  void load(torch::serialize::InputArchive& archive, const std::filesystem::path& path) override {
    torch::Tensor saved;
    if (!archive.try_read("class_centres", saved))
      fail("checkpoint '{}' holds no class centres (a triplet run?), the config trains a margin softmax", path.string());
    if (saved.sizes() != centres_.sizes())
      fail("checkpoint '{}' holds {} x {} class centres, this run has {} x {} (another pack or validation split?)",
           path.string(), saved.size(0), saved.size(1), centres_.size(0), centres_.size(1));
    torch::NoGradGuard no_grad;
    centres_.copy_(saved);
  }

  std::string note(const std::map<std::string, double>& m) const override {
    return fmt::format("{} {:.4f} cos {:.3f} angle {:.1f} acc {:.2f}", name_, m.at("softmax_loss"),
                       m.at("target_cosine"), m.at("target_angle_deg"), m.at("train_accuracy"));
  }

 private:
  std::string name_;
  MarginSoftmaxOptions options_;
  double weight_ = 1, momentum_ = 0.5;
  bool prototype_ = false;
  Distributed* distributed_;
  torch::Tensor class_of_label_;  // pack label -> class (-1: held out)
  torch::Tensor centres_;         // (classes, D)
};

}  // namespace

LossHeadRegistration margin_softmax_head_registration() {
  return {"margin softmax",
          {"softmax_loss", "target_cosine", "target_angle_deg", "train_accuracy"},
          [](const TrainConfig& c) { return c.loss.margin_softmax(); },
          [](const LossHeadContext& c) { return std::make_unique<MarginSoftmaxHead>(c); }};
}

}  // namespace face
