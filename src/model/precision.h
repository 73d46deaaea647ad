// precision.h: the arithmetic a network runs in, chosen once per tool or run.
//
//   fp32   everything in float32
//   bf16   convolutions, matrix products and the LRN in bfloat16 (8 bits of mantissa), with
//          float32 kept where it matters: master weights and optimiser state when training
//          (autocast), the batch-norm fold and the final L2 normalisation when embedding
//   auto   bf16 where the device computes it natively, fp32 elsewhere
//
// Native means: on CUDA, a GPU of compute capability 8.0 or later; on the CPU, the AVX-512 BF16
// or AMX-BF16 instructions, as ATen's CPU capability report (cpuinfo) sees them. Without them
// bf16 still runs and gives the same results, but oneDNN emulates it and it is slower than fp32,
// so `auto` never picks it there.
#pragma once
#include <torch/types.h>

#include <string>

namespace face {

enum class Precision { fp32, bf16 };

// "fp32" | "bf16"; face::Error for anything else (use resolve_precision for "auto").
Precision precision_from_name(const std::string& name);
std::string precision_name(Precision precision);

// Whether `device` computes bf16 natively (see above).
bool has_native_bf16(const torch::Device& device);

// What has_native_bf16 rests on, for logs and reports, e.g. "CPU: avx512_bf16 no, amx_bf16 no".
std::string bf16_support(const torch::Device& device);

// "auto" | "fp32" | "bf16" -> the precision to run on `device`.
Precision resolve_precision(const std::string& name, const torch::Device& device);

// bf16 autocast on `device` for the scope's lifetime; a no-op for fp32. Restores the state it
// found (nested scopes and other callers keep theirs). Within it, ops on autocast's
// lower-precision list (convolution, linear, matmul) run in bf16 on fp32 weights.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const torch::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_ = false, was_enabled_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
};

}  // namespace face
