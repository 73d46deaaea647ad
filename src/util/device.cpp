#include "util/device.h"

#include <torch/cuda.h>

#include "util/error.h"

namespace face {

torch::Device parse_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    fail("device '{}' is not valid (cpu, cuda or cuda:N)", name);
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    fail("device '{}' was asked for, but LibTorch sees no CUDA device here", name);
  return device;
}

}  // namespace face
