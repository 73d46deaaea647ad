// network_input.h: how every forward of the trainer (the step, PreciseBN, evaluation) feeds
// the network: pack rows converted and resized to its input (the bf16 autocast scope that wraps
// the forwards is model/precision.h's AutocastScope).
#pragma once
#include <torch/nn/functional/upsampling.h>
#include <torch/types.h>

#include <vector>

#include "data/normalisation.h"

namespace face {

// uint8 pack images (m, 3, H, W), or float ones in [0, 1] -> the network's float input, resized
// (bilinear, antialiased) when they are not kInputSize x kInputSize.
inline torch::Tensor network_input(const torch::Tensor& images) {
  auto x = to_model_input(images);
  if (x.size(2) == kInputSize && x.size(3) == kInputSize) return x;
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{kInputSize, kInputSize})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(true));
}

}  // namespace face
