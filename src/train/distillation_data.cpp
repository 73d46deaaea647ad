#include "train/distillation_data.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "train/distillation_loss.h"
#include "train/teacher_targets.h"
#include "util/error.h"

namespace face {
namespace fs = std::filesystem;

DistillationData load_distillation_data(const TrainConfig& config, const Pack& pack,
                                        const std::vector<int64_t>& train_images, const torch::Device& device,
                                        bool is_main) {
  const auto& d = config.data;
  DistillationData out;
  try {
    auto path = d.teacher_targets.empty() ? default_targets_path(d.pack) : fs::path(d.teacher_targets);
    torch::Tensor targets = targets_for_pack(path, pack);
    if (targets.size(1) != config.model.embedding_dim)
      fail("teacher targets '{}' are {}-d, the student's model.embedding_dim is {}", path.string(), targets.size(1),
           config.model.embedding_dim);
    torch::Tensor train = targets.index_select(0, torch::tensor(train_images, torch::kLong));
    torch::Tensor unlabelled;
    if (!d.unlabelled_pack.empty()) {
      Pack extra = load_pack(d.unlabelled_pack);
      auto extra_path = d.unlabelled_targets.empty() ? default_targets_path(d.unlabelled_pack) : fs::path(d.unlabelled_targets);
      unlabelled = targets_for_pack(extra_path, extra);
      if (unlabelled.size(1) != targets.size(1))
        fail("teacher targets '{}' are {}-d, those of the pack are {}-d", extra_path.string(), unlabelled.size(1),
             targets.size(1));
      out.unlabelled_images = d.on_device ? extra.images.to(device) : extra.images;
      train = torch::cat({train, unlabelled});
    }
    torch::Tensor mean = train.mean(0);
    out.targets = centre_targets(targets, mean).to(device);
    if (unlabelled.defined()) out.unlabelled_targets = centre_targets(unlabelled, mean).to(device);
    if (is_main)
      fmt::print("distillation: teacher targets {} ({} x {}), mean cosine to their centre {:.3f}{}\n", path.string(),
                 targets.size(0), targets.size(1), (train.matmul(mean) / mean.norm()).mean().item<double>(),
                 unlabelled.defined() ? fmt::format(", {} unlabelled faces from {}", unlabelled.size(0), d.unlabelled_pack)
                                      : "");
  } catch (const Error& err) {
    fail("distillation (loss.distill.weight {}): {}", config.loss.distill.weight, err.what());
  }
  return out;
}

}  // namespace face
