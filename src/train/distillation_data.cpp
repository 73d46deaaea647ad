#include "train/distillation_data.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "data/draw_weights.h"
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
      if (!d.unlabelled_weights.empty()) out.unlabelled_weights = load_draw_weights(d.unlabelled_weights, extra.paths);
      train = torch::cat({train, unlabelled});
    }
    torch::Tensor centre = train.mean(0);
    torch::Tensor mean = centre * config.loss.distill.centring;
    out.mean = mean.to(device);
    if (!d.online_teacher.empty()) {
      out.teacher = load_embedder(d.online_teacher, device);
      const std::string recorded = load_teacher_targets(path).teacher_fingerprint;
      if (out.teacher->fingerprint() != recorded)
        fail("data.online_teacher '{}' (weights {}) is not the teacher of the targets '{}' (weights {}): the "
             "targets give the centring mean, so they must come from the same teacher",
             d.online_teacher, out.teacher->fingerprint(), path.string(), recorded);
      if (out.teacher->input_size() != pack.images.size(-1))
        fail("data.online_teacher '{}' takes {}x{} faces, the pack holds {}x{}: pack the faces at the teacher's size",
             d.online_teacher, out.teacher->input_size(), out.teacher->input_size(), pack.images.size(-2),
             pack.images.size(-1));
      if (out.unlabelled_images.defined() && out.unlabelled_images.size(-1) != pack.images.size(-1))
        fail("data.unlabelled_pack '{}' holds {}x{} faces, the pack {}x{}: the online teacher needs one size",
             d.unlabelled_pack, out.unlabelled_images.size(-1), out.unlabelled_images.size(-1), pack.images.size(-1),
             pack.images.size(-1));
      if (is_main) fmt::print("distillation: online teacher {} embeds every step's augmented view\n", d.online_teacher);
    }
    out.targets = centre_targets(targets, mean).to(device);
    if (unlabelled.defined()) out.unlabelled_targets = centre_targets(unlabelled, mean).to(device);
    if (is_main)
      fmt::print("distillation: teacher targets {} ({} x {}), mean cosine to their centre {:.3f}{}\n", path.string(),
                 targets.size(0), targets.size(1), (train.matmul(centre) / centre.norm()).mean().item<double>(),
                 unlabelled.defined() ? fmt::format(", {} unlabelled faces from {}{}", unlabelled.size(0), d.unlabelled_pack,
                                                    d.unlabelled_weights.empty() ? "" : " drawn by " + d.unlabelled_weights)
                                      : "");
  } catch (const Error& err) {
    fail("distillation (loss.distill.weight {}): {}", config.loss.distill.weight, err.what());
  }
  return out;
}

torch::Tensor online_targets(const DistillationData& data, const torch::Tensor& views, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  // The teacher takes faces as packs store them (uint8), as when the targets were precomputed.
  auto faces = (views.detach() * 255).round_().clamp_(0, 255).to(torch::kUInt8);
  return centre_targets(data.teacher->embed(faces).to(device), data.mean);
}

}  // namespace face
