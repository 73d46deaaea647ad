// augment.h: training-time augmentation on tensors, on whatever device the batch is on.
//
// Every operation is vectorised over the batch (no per-image host loop, no host sync), and its
// randomness comes from the default generator of the batch's device, so a resumed run that
// restores those generators (train/checkpoint.h) repeats the same augmentations.
//
//   flip           horizontal flip with probability 1/2
//   crop_padding   pad by p pixels (zeros) and take a random crop of the original size
//   brightness     add U(-b, b) to every pixel of an image
//   contrast       scale each image about its mean by 1 + U(-c, c)
// Results are clamped to [0, 1]. Each is off when set to false / 0.
#pragma once
#include <torch/types.h>

namespace face {

struct AugmentOptions {
  bool flip = true;
  int64_t crop_padding = 4;
  double brightness = 0.1;
  double contrast = 0.1;

  bool any() const { return flip || crop_padding > 0 || brightness > 0 || contrast > 0; }
};

// images: float (m, C, H, W) in [0, 1]; returns a new tensor of the same shape and device.
torch::Tensor augment(const torch::Tensor& images, const AugmentOptions& options);

}  // namespace face
