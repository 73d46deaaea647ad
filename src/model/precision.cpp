#include "model/precision.h"

#include <ATen/autocast_mode.h>
#include <ATen/cpu/Utils.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <fmt/format.h>

#include "util/error.h"

namespace face {

namespace {

bool cpu_capability(const std::unordered_map<std::string, c10::IValue>& caps, const char* name) {
  auto it = caps.find(name);
  return it != caps.end() && it->second.isBool() && it->second.toBool();
}

}  // namespace

Precision precision_from_name(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  fail("'{}' is not a precision (auto, fp32 or bf16)", name);
}

std::string precision_name(Precision precision) { return precision == Precision::bf16 ? "bf16" : "fp32"; }

bool has_native_bf16(const torch::Device& device) {
  // cuDNN's bf16 convolutions need compute capability 8.0 (Ampere) or later, the same bound.
  if (device.is_cuda())
    return torch::cuda::is_available() && at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8();
  const auto caps = at::cpu::get_cpu_capabilities();
  return cpu_capability(caps, "avx512_bf16") || cpu_capability(caps, "amx_bf16");
}

std::string bf16_support(const torch::Device& device) {
  if (device.is_cuda()) return has_native_bf16(device) ? "CUDA: bf16 native" : "CUDA: no native bf16";
  const auto caps = at::cpu::get_cpu_capabilities();
  auto yes_no = [&](const char* name) { return cpu_capability(caps, name) ? "yes" : "no"; };
  return fmt::format("CPU: avx512_bf16 {}, amx_bf16 {}", yes_no("avx512_bf16"), yes_no("amx_bf16"));
}

Precision resolve_precision(const std::string& name, const torch::Device& device) {
  if (name == "auto") return has_native_bf16(device) ? Precision::bf16 : Precision::fp32;
  return precision_from_name(name);
}

AutocastScope::AutocastScope(Precision precision, const torch::Device& device) {
  if (precision != Precision::bf16) return;
  on_ = true;
  type_ = device.type();
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  was_dtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
}

AutocastScope::~AutocastScope() {
  if (!on_) return;
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, was_dtype_);
  if (!was_enabled_) at::autocast::clear_cache();
}

}  // namespace face
