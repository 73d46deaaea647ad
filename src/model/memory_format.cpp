#include "model/memory_format.h"

namespace face {

void use_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
}

torch::Tensor in_layout(const torch::Tensor& images, bool channels_last) {
  return channels_last ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
}

}  // namespace face
