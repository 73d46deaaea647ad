#include "model/local_response_norm.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/csrc/jit/frontend/tracer.h>

#include <cmath>
#include <vector>

namespace face {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// s^-beta. nn4 uses beta = 3/4, where s^-3/4 = r * sqrt(r) with r = 1/sqrt(s): two square roots
// vectorise, std::pow does not.
template <bool kThreeQuarters>
inline float inverse_power(float s, float beta) {
  if constexpr (kThreeQuarters) {
    float r = 1.0f / std::sqrt(s);
    return r * std::sqrt(r);
  } else {
    return std::pow(s, -beta);
  }
}

// The kernels see channels-last data: `pixels` rows of `channels` contiguous values, so each
// pixel's window slides along one contiguous row. A zero-padded copy of the row lets the window
// run past both ends without branches. `T` is the activations' type (float, or c10::BFloat16
// under bf16 autocast); the arithmetic and the saved denominators `s` are float either way, so
// bf16 costs only the rounding of the values stored.

template <typename T, bool kThreeQuarters>
void lrn_forward(const T* x, T* y, float* s, int64_t pixels, int64_t channels, const LrnOptions& o) {
  const int64_t size = o.size(), before = size / 2;
  const float scale = static_cast<float>(o.alpha() / size), k = static_cast<float>(o.k());
  const float beta = static_cast<float>(o.beta());
  at::parallel_for(0, pixels, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> squares(channels + size - 1, 0.0f), xf(channels);  // x_j^2 at [before + j]
    for (int64_t p = begin; p < end; ++p) {
      const T* xp = x + p * channels;
      float* sp = s + p * channels;
      T* yp = y + p * channels;
      for (int64_t c = 0; c < channels; ++c) xf[c] = static_cast<float>(xp[c]);
      for (int64_t c = 0; c < channels; ++c) squares[before + c] = xf[c] * xf[c];
      for (int64_t c = 0; c < channels; ++c) sp[c] = 0.0f;
      for (int64_t d = 0; d < size; ++d)  // output c sums squares[c .. c + size - 1]
        for (int64_t c = 0; c < channels; ++c) sp[c] += squares[c + d];
      for (int64_t c = 0; c < channels; ++c) {
        sp[c] = k + scale * sp[c];
        yp[c] = static_cast<T>(xf[c] * inverse_power<kThreeQuarters>(sp[c], beta));
      }
    }
  });
}

template <typename T, bool kThreeQuarters>
void lrn_backward(const T* x, const float* s, const T* g, T* dx, int64_t pixels, int64_t channels,
                  const LrnOptions& o) {
  const int64_t size = o.size(), after = (size - 1) / 2;
  const float beta = static_cast<float>(o.beta());
  const float coefficient = static_cast<float>(2.0 * o.alpha() * o.beta() / size);
  at::parallel_for(0, pixels, 16, [&](int64_t begin, int64_t end) {
    // t_j = g_j x_j s_j^(-beta-1) at [after + j]: input i feeds the outputs j in
    // [i - after, i + before], the mirror of the forward window.
    std::vector<float> t(channels + size - 1, 0.0f), window(channels), xf(channels), gf(channels);
    for (int64_t p = begin; p < end; ++p) {
      const T* xp = x + p * channels;
      const float* sp = s + p * channels;
      const T* gp = g + p * channels;
      T* dxp = dx + p * channels;
      for (int64_t c = 0; c < channels; ++c) xf[c] = static_cast<float>(xp[c]), gf[c] = static_cast<float>(gp[c]);
      for (int64_t c = 0; c < channels; ++c)
        t[after + c] = gf[c] * xf[c] * inverse_power<kThreeQuarters>(sp[c], beta) / sp[c];
      for (int64_t c = 0; c < channels; ++c) window[c] = 0.0f;
      for (int64_t d = 0; d < size; ++d)
        for (int64_t c = 0; c < channels; ++c) window[c] += t[c + d];
      for (int64_t c = 0; c < channels; ++c)
        dxp[c] = static_cast<T>(gf[c] * inverse_power<kThreeQuarters>(sp[c], beta) - coefficient * xf[c] * window[c]);
    }
  });
}

// The kernels for the tensors' type T and nn4's beta.
template <typename T>
void forward_as(const torch::Tensor& x, torch::Tensor& y, torch::Tensor& s, const LrnOptions& o) {
  const int64_t channels = x.size(1), pixels = x.numel() / std::max<int64_t>(channels, 1);
  auto kernel = o.beta() == 0.75 ? lrn_forward<T, true> : lrn_forward<T, false>;
  kernel(x.data_ptr<T>(), y.data_ptr<T>(), s.data_ptr<float>(), pixels, channels, o);
}

template <typename T>
void backward_as(const torch::Tensor& x, const torch::Tensor& s, const torch::Tensor& g, torch::Tensor& dx,
                 const LrnOptions& o) {
  const int64_t channels = x.size(1), pixels = x.numel() / std::max<int64_t>(channels, 1);
  auto kernel = o.beta() == 0.75 ? lrn_backward<T, true> : lrn_backward<T, false>;
  kernel(x.data_ptr<T>(), s.data_ptr<float>(), g.data_ptr<T>(), dx.data_ptr<T>(), pixels, channels, o);
}

LrnOptions options_from(AutogradContext* ctx) {
  return LrnOptions()
      .size(ctx->saved_data["size"].toInt())
      .alpha(ctx->saved_data["alpha"].toDouble())
      .beta(ctx->saved_data["beta"].toDouble())
      .k(ctx->saved_data["k"].toDouble());
}

// Returns `t` in the memory format of `like` (the layer keeps the caller's layout).
torch::Tensor in_format_of(const torch::Tensor& t, const torch::Tensor& like) {
  return t.contiguous(like.suggest_memory_format());
}

struct FusedLrn : torch::autograd::Function<FusedLrn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, int64_t size, double alpha,
                               double beta, double k) {
    const auto options = LrnOptions().size(size).alpha(alpha).beta(beta).k(k);
    auto x = input.contiguous(at::MemoryFormat::ChannelsLast);
    auto y = torch::empty_like(x), s = torch::empty_like(x, x.options().dtype(torch::kFloat32));
    if (x.scalar_type() == torch::kBFloat16)
      forward_as<c10::BFloat16>(x, y, s, options);
    else
      forward_as<float>(x, y, s, options);
    ctx->save_for_backward({x, s});
    ctx->saved_data["size"] = size;
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["beta"] = beta;
    ctx->saved_data["k"] = k;
    return in_format_of(y, input);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& s = saved[1];
    const auto options = options_from(ctx);
    auto g = grads[0].to(x.scalar_type()).contiguous(at::MemoryFormat::ChannelsLast);
    auto dx = torch::empty_like(x);
    if (x.scalar_type() == torch::kBFloat16)
      backward_as<c10::BFloat16>(x, s, g, dx, options);
    else
      backward_as<float>(x, s, g, dx, options);
    return {in_format_of(dx, grads[0]), {}, {}, {}, {}};
  }
};

}  // namespace

torch::Tensor local_response_norm_composite(const torch::Tensor& x, const LrnOptions& o) {
  // (m, 1, C, H, W): the mean of squares over a channel window is a 3-d average pool. Every shape
  // comes from the tensor, so a traced graph accepts any batch size (LibTorch's own
  // LocalResponseNorm reads the batch size as a plain integer, which tracing would freeze).
  const int64_t size = o.size();
  auto div = x.mul(x).unsqueeze(1);
  div = torch::constant_pad_nd(div, {0, 0, 0, 0, size / 2, (size - 1) / 2}, 0);
  // Stride and padding spelled out per axis: the ONNX exporter copies them as given, and
  // AveragePool needs one stride per axis (tools/export_onnx.py).
  div = torch::avg_pool3d(div, {size, 1, 1}, /*stride=*/{1, 1, 1}, /*padding=*/{0, 0, 0}, /*ceil_mode=*/false,
                          /*count_include_pad=*/true)
            .squeeze(1);
  return x / div.mul(o.alpha()).add(o.k()).pow(o.beta());
}

torch::Tensor local_response_norm(const torch::Tensor& x, const LrnOptions& o) {
  TORCH_CHECK(x.dim() == 4, "local_response_norm expects (m, C, H, W) input, got ", x.sizes());
  const bool fused = x.device().is_cpu() && (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16) &&
                     !torch::jit::tracer::isTracing();
  if (!fused) return local_response_norm_composite(x, o);
  return FusedLrn::apply(x, o.size(), o.alpha(), o.beta(), o.k());
}

}  // namespace face
