#include "data/augment.h"

#include <torch/torch.h>

namespace face {

torch::Tensor augment(const torch::Tensor& images, const AugmentOptions& options) {
  TORCH_CHECK(images.dim() == 4 && images.is_floating_point(), "augment expects a float (m, C, H, W) batch");
  const int64_t m = images.size(0), h = images.size(2), w = images.size(3);
  auto on_device = images.options();
  torch::Tensor x = images;

  if (options.crop_padding > 0) {
    const int64_t p = options.crop_padding;
    auto padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
    auto index = torch::TensorOptions().dtype(torch::kLong).device(images.device());
    auto dy = torch::randint(0, 2 * p + 1, {m, 1}, index), dx = torch::randint(0, 2 * p + 1, {m, 1}, index);
    auto rows = (dy + torch::arange(h, index)).view({m, 1, h, 1});
    auto cols = (dx + torch::arange(w, index)).view({m, 1, 1, w});
    auto batch = torch::arange(m, index).view({m, 1, 1, 1});
    auto channel = torch::arange(x.size(1), index).view({1, -1, 1, 1});
    x = padded.index({batch, channel, rows, cols});
  }
  if (options.flip) {
    auto flip = (torch::rand({m, 1, 1, 1}, on_device) < 0.5);
    x = torch::where(flip, x.flip({3}), x);
  }
  if (options.contrast > 0) {
    auto factor = 1.0 + (torch::rand({m, 1, 1, 1}, on_device) * 2 - 1) * options.contrast;
    auto centre = x.mean({1, 2, 3}, /*keepdim=*/true);
    x = (x - centre) * factor + centre;
  }
  if (options.brightness > 0) x = x + (torch::rand({m, 1, 1, 1}, on_device) * 2 - 1) * options.brightness;
  return x.clamp(0.0, 1.0);
}

}  // namespace face
