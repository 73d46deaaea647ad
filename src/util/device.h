// device.h: the one place a --device name becomes a torch::Device.
#pragma once
#include <torch/types.h>

#include <string>

namespace face {

// "cpu", "cuda" or "cuda:N". face::Error naming the value when it is malformed, or when it asks
// for CUDA on a machine where LibTorch sees no CUDA device.
torch::Device parse_device(const std::string& name);

}  // namespace face
