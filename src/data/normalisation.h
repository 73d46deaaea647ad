// normalisation.h: the one place the network's input convention is defined.
//
// Aligned faces are stored as uint8 RGB (packs, alignment output). The network, like OpenFace's
// nn4.small2.v1, takes float RGB scaled to [0, 1]: no mean subtraction, no standardisation.
// Every path into a model (training, embed, evaluate, export) goes through to_model_input.
#pragma once
#include <torch/types.h>

namespace face {

constexpr int64_t kInputSize = 96;  // aligned faces are kInputSize x kInputSize

// uint8 (m, 3, H, W) RGB -> float (m, 3, H, W) in [0, 1] on the same device. Float input is
// returned unchanged (already normalised).
inline torch::Tensor to_model_input(const torch::Tensor& images) {
  if (images.scalar_type() == torch::kUInt8) return images.to(torch::kFloat32).div_(255.0);
  return images;
}

}  // namespace face
