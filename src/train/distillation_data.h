// distillation_data.h: the teacher's side of a distilling run's batches.
//
// The teacher targets of the training pack (train/teacher_targets.h; data.teacher_targets,
// default the pack's path + ".teacher") and, with data.unlabelled_pack, faces without identity
// labels with their own targets, which join every batch for the distillation terms only.
// Targets are centred on their mean over the training images and the unlabelled faces, never
// the held-out identities, so validation stays untouched by the teacher's view of them.
#pragma once
#include <torch/types.h>

#include <vector>

#include "data/pack.h"
#include "train/config.h"

namespace face {

struct DistillationData {
  torch::Tensor targets;             // (pack images, D) centred unit targets, on the device
  torch::Tensor unlabelled_images;   // uint8 unlabelled faces (on the device with data.on_device); undefined without
  torch::Tensor unlabelled_targets;  // their centred targets, on the device
};

// Requires: config.loss.uses_teacher(). Ensures: the data above; fails (face::Error naming
// the file and the config key) when a targets file is missing, stale, or of another dimension
// than model.embedding_dim. Prints a summary line when `is_main`.
DistillationData load_distillation_data(const TrainConfig& config, const Pack& pack,
                                        const std::vector<int64_t>& train_images, const torch::Device& device,
                                        bool is_main);

}  // namespace face
