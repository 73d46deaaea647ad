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

// The kernels see channels-last data: `pixels` rows of `channels` contiguous floats, so each
// pixel's window slides along one contiguous row. A zero-padded copy of the row lets the window
// run past both ends without branches.

template <bool kThreeQuarters>
void lrn_forward(const float* x, float* y, float* s, int64_t pixels, int64_t channels, const LrnOptions& o) {
  const int64_t size = o.size(), before = size / 2;
  const float scale = static_cast<float>(o.alpha() / size), k = static_cast<float>(o.k());
  const float beta = static_cast<float>(o.beta());
  at::parallel_for(0, pixels, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> squares(channels + size - 1, 0.0f);  // x_j^2 at [before + j]
    for (int64_t p = begin; p < end; ++p) {
      const float* xp = x + p * channels;
      float* sp = s + p * channels;
      float* yp = y + p * channels;
      for (int64_t c = 0; c < channels; ++c) squares[before + c] = xp[c] * xp[c];
      for (int64_t c = 0; c < channels; ++c) sp[c] = 0.0f;
      for (int64_t d = 0; d < size; ++d)  // output c sums squares[c .. c + size - 1]
        for (int64_t c = 0; c < channels; ++c) sp[c] += squares[c + d];
      for (int64_t c = 0; c < channels; ++c) {
        sp[c] = k + scale * sp[c];
        yp[c] = xp[c] * inverse_power<kThreeQuarters>(sp[c], beta);
      }
    }
  });
}

template <bool kThreeQuarters>
void lrn_backward(const float* x, const float* s, const float* g, float* dx, int64_t pixels, int64_t channels,
                  const LrnOptions& o) {
  const int64_t size = o.size(), after = (size - 1) / 2;
  const float beta = static_cast<float>(o.beta());
  const float coefficient = static_cast<float>(2.0 * o.alpha() * o.beta() / size);
  at::parallel_for(0, pixels, 16, [&](int64_t begin, int64_t end) {
    // t_j = g_j x_j s_j^(-beta-1) at [after + j]: input i feeds the outputs j in
    // [i - after, i + before], the mirror of the forward window.
    std::vector<float> t(channels + size - 1, 0.0f), window(channels);
    for (int64_t p = begin; p < end; ++p) {
      const float* xp = x + p * channels;
      const float* sp = s + p * channels;
      const float* gp = g + p * channels;
      float* dxp = dx + p * channels;
      for (int64_t c = 0; c < channels; ++c)
        t[after + c] = gp[c] * xp[c] * inverse_power<kThreeQuarters>(sp[c], beta) / sp[c];
      for (int64_t c = 0; c < channels; ++c) window[c] = 0.0f;
      for (int64_t d = 0; d < size; ++d)
        for (int64_t c = 0; c < channels; ++c) window[c] += t[c + d];
      for (int64_t c = 0; c < channels; ++c)
        dxp[c] = gp[c] * inverse_power<kThreeQuarters>(sp[c], beta) - coefficient * xp[c] * window[c];
    }
  });
}

bool is_three_quarters(double beta) { return beta == 0.75; }

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
    auto y = torch::empty_like(x), s = torch::empty_like(x);
    const int64_t channels = x.size(1), pixels = x.numel() / std::max<int64_t>(channels, 1);
    if (is_three_quarters(beta))
      lrn_forward<true>(x.data_ptr<float>(), y.data_ptr<float>(), s.data_ptr<float>(), pixels, channels, options);
    else
      lrn_forward<false>(x.data_ptr<float>(), y.data_ptr<float>(), s.data_ptr<float>(), pixels, channels, options);
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
    auto g = grads[0].contiguous(at::MemoryFormat::ChannelsLast);
    auto dx = torch::empty_like(x);
    const int64_t channels = x.size(1), pixels = x.numel() / std::max<int64_t>(channels, 1);
    if (is_three_quarters(options.beta()))
      lrn_backward<true>(x.data_ptr<float>(), s.data_ptr<float>(), g.data_ptr<float>(), dx.data_ptr<float>(), pixels,
                         channels, options);
    else
      lrn_backward<false>(x.data_ptr<float>(), s.data_ptr<float>(), g.data_ptr<float>(), dx.data_ptr<float>(), pixels,
                          channels, options);
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
  div = torch::avg_pool3d(div, {size, 1, 1}, /*stride=*/1, /*padding=*/0, /*ceil_mode=*/false,
                          /*count_include_pad=*/true)
            .squeeze(1);
  return x / div.mul(o.alpha()).add(o.k()).pow(o.beta());
}

torch::Tensor local_response_norm(const torch::Tensor& x, const LrnOptions& o) {
  TORCH_CHECK(x.dim() == 4, "local_response_norm expects (m, C, H, W) input, got ", x.sizes());
  const bool fused = x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && !torch::jit::tracer::isTracing();
  if (!fused) return local_response_norm_composite(x, o);
  return FusedLrn::apply(x, o.size(), o.alpha(), o.beta(), o.k());
}

}  // namespace face
