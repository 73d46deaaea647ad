// local_response_norm.h: cross-channel local response normalisation (LRN), as in AlexNet, Caffe,
// OpenFace's nn4 stem and torch::nn::LocalResponseNorm:
//
//   s_c = k + alpha / size * sum of x_j^2 for j in [c - size/2, c + (size-1)/2] (zero outside)
//   y_c = x_c / s_c^beta
//
// Why a file of its own: the library's composite form (square, pad, 3-d average pool, pow,
// divide) is the slowest layer of nn4.small2 on CPU: its avg_pool3d forward and backward took
// ~40% of a training step. On CPU float tensors this computes the same function in one pass
// over the channels of each pixel, with the analytic gradient
//
//   dx_i = g_i s_i^-beta - 2 alpha beta / size * x_i * sum over windows j containing i of
//          g_j x_j s_j^(-beta-1)
//
// The fused path takes float32 and bfloat16 (bf16 autocast, model/precision.h: it computes in
// float and rounds only what it stores, so bf16 does not fall back to the slow composite ops).
// Elsewhere (CUDA, other dtypes) and while tracing for TorchScript export it falls back to the
// composite form, built from standard operators so that the traced graph stays portable and takes
// every shape from the tensor (any batch size).
//
// Guarantees: both paths agree to float rounding in value and gradient (tests/core/local_response_norm_test.cpp).
// The fused backward is first-order only (no double backward).
#pragma once
#include <torch/arg.h>
#include <torch/types.h>

namespace face {

struct LrnOptions {
  TORCH_ARG(int64_t, size) = 5;
  TORCH_ARG(double, alpha) = 1e-4;
  TORCH_ARG(double, beta) = 0.75;
  TORCH_ARG(double, k) = 1.0;
};

// x: (m, C, H, W). The fused path is taken for CPU float32 or bfloat16 input when not tracing.
torch::Tensor local_response_norm(const torch::Tensor& x, const LrnOptions& options = {});

// The composite form, always (reference for tests and the export path).
torch::Tensor local_response_norm_composite(const torch::Tensor& x, const LrnOptions& options = {});

}  // namespace face
