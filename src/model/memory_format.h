// memory_format.h: the activation layout the network runs in.
//
// Channels-last (NHWC) is the fast layout for nn4 on both CPU (oneDNN convolutions, the fused
// LRN of model/local_response_norm.h) and CUDA (cuDNN with bf16), so training, embedding and the
// benchmarks use it by default. It changes only how tensors are laid out in memory, never a value
// beyond float rounding; checkpoints load into either layout.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

namespace face {

// Re-lays every 4-d parameter (convolution weights) of `module` out channels-last, in place.
void use_channels_last(torch::nn::Module& module);

// `images` (m, C, H, W) laid out channels-last when `channels_last`, else unchanged.
torch::Tensor in_layout(const torch::Tensor& images, bool channels_last);

}  // namespace face
