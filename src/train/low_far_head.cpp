#include "train/low_far_head.h"

#include <fmt/format.h>
#include <torch/torch.h>


#include "train/distributed.h"
#include "train/low_far_loss.h"
#include "util/error.h"

namespace face {

namespace {

class LowFarHead : public LossHead {
 public:
  explicit LowFarHead(const LossHeadContext& c)
      : options_(c.config.loss.low_far), levels_(far_levels(options_.strictest_far)), device_(c.device),
        distributed_(c.distributed) {}

  LossTerm forward(const LossHeadInput& in, StepMetrics& metrics) override {
    auto masks = pair_masks(in.labels, in.embeddings.size(0));
    // Each model's pairwise similarities, once: for its thresholds and for the loss.
    auto student = in.embeddings.matmul(in.embeddings.t());
    torch::Tensor teacher;
    {
      torch::NoGradGuard no_grad;
      teacher = in.targets.matmul(in.targets.t());
      update(student_tau_, negative_thresholds(student, masks.negative, levels_));
      update(teacher_tau_, negative_thresholds(teacher, masks.negative, levels_));
    }
    auto terms = low_far_loss(student, teacher, masks, student_tau_, teacher_tau_, options_.temperature);
    metrics.put("low_far_loss", terms.loss.detach());
    metrics.put("low_far_gap", terms.decision_gap);
    metrics.put("low_far_pairs", terms.selected_pairs);
    metrics.put("low_far_student_tau", student_tau_[-1]);
    metrics.put("low_far_teacher_tau", teacher_tau_[-1]);
    return weighted_term(terms.loss, options_.weight);
  }

  void save(torch::serialize::OutputArchive& archive) const override {
    // Before the first step there are no thresholds yet: an empty tensor says so.
    archive.write("low_far_student_thresholds", student_tau_.defined() ? student_tau_ : torch::empty({0}));
    archive.write("low_far_teacher_thresholds", teacher_tau_.defined() ? teacher_tau_ : torch::empty({0}));
  }

  void load(torch::serialize::InputArchive& archive, const std::filesystem::path& path) override {
    student_tau_ = read(archive, "low_far_student_thresholds", path);
    teacher_tau_ = read(archive, "low_far_teacher_thresholds", path);
  }

  std::string note(const std::map<std::string, double>& m) const override {
    return fmt::format("low-FAR {:.4f} tau {:.3f}/{:.3f}", m.at("low_far_loss"), m.at("low_far_student_tau"),
                       m.at("low_far_teacher_tau"));
  }

 private:
  void update(torch::Tensor& running, torch::Tensor batch) {
    if (distributed_) {  // every rank keeps the same thresholds
      distributed_->all_reduce_sum(batch);
      batch.div_(distributed_->world_size());
    }
    update_thresholds(running, batch, options_.momentum);
  }

  torch::Tensor read(torch::serialize::InputArchive& archive, const std::string& key,
                     const std::filesystem::path& path) const {
    torch::Tensor saved;
    if (!archive.try_read(key, saved))
      fail("checkpoint '{}' holds no low-FAR thresholds ('{}'), the config trains loss.low_far", path.string(), key);
    if (saved.numel() == 0) return {};
    if (saved.dim() != 1 || saved.size(0) != static_cast<int64_t>(levels_.size()))
      fail("checkpoint '{}' holds {} low-FAR thresholds, this run has {} FAR levels (loss.low_far.strictest_far "
           "changed?)", path.string(), saved.numel(), levels_.size());
    return saved.to(device_);
  }

  LowFarOptions options_;
  std::vector<double> levels_;
  torch::Device device_;
  Distributed* distributed_;
  torch::Tensor student_tau_, teacher_tau_;  // (levels), undefined before the first step
};

}  // namespace

LossHeadRegistration low_far_head_registration() {
  return {"low_far",
          {"low_far_loss", "low_far_gap", "low_far_pairs", "low_far_student_tau", "low_far_teacher_tau"},
          [](const TrainConfig& c) { return c.loss.low_far.weight > 0; },
          [](const LossHeadContext& c) { return std::make_unique<LowFarHead>(c); }};
}

}  // namespace face
