// distillation_data.h: the teacher's side of a distilling run's batches.
//
// The teacher targets of the training pack (train/teacher_targets.h; data.teacher_targets,
// default the pack's path + ".teacher") and, with data.unlabelled_pack, faces without identity
// labels with their own targets, which join every batch for the distillation terms only, drawn
// uniformly or in proportion to data.unlabelled_weights (data/draw_weights.h).
// Targets are centred on their mean over the training images and the unlabelled faces, never
// the held-out identities, so validation stays untouched by the teacher's view of them.
//
// Online teaching (data.online_teacher, after Beyer et al. 2022, "a good teacher is patient and
// consistent"): the teacher itself, loaded from a model file, embeds every step's augmented
// view, so the student matches the teacher on exactly the pixels it sees rather than on a
// vector computed once from the unaugmented image. The precomputed targets still give the
// centring mean, and must come from the same teacher (their recorded weights fingerprint is
// checked), so the two ways of teaching centre alike.
#pragma once
#include <torch/types.h>

#include <vector>

#include "data/pack.h"
#include "model/embedder.h"
#include "train/config.h"

namespace face {

struct DistillationData {
  torch::Tensor targets;             // (pack images, D) centred unit targets, on the device
  torch::Tensor unlabelled_images;   // uint8 unlabelled faces (on the device with data.on_device); undefined without
  torch::Tensor unlabelled_targets;  // their centred targets, on the device
  torch::Tensor unlabelled_weights;  // float draw weights (data.unlabelled_weights) on the CPU; undefined: uniform
  torch::Tensor mean;                // (D) the centring mean
  std::shared_ptr<Embedder> teacher; // online teaching: the teacher itself; null without
};

// Online teaching: the centred teacher vectors of `views`, float (m, 3, S, S) in [0, 1] at the
// teacher's input size (the pack's), on `device`. Requires: data.teacher (not null).
torch::Tensor online_targets(const DistillationData& data, const torch::Tensor& views, const torch::Device& device);

// Requires: config.loss.uses_teacher(). Ensures: the data above; fails (face::Error naming
// the file and the config key) when a targets file is missing, stale, or of another dimension
// than model.embedding_dim. Prints a summary line when `is_main`.
DistillationData load_distillation_data(const TrainConfig& config, const Pack& pack,
                                        const std::vector<int64_t>& train_images, const torch::Device& device,
                                        bool is_main);

}  // namespace face
