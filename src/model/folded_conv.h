// folded_conv.h: one convolution of an inference network, batch norm folded into its weights and
// the ReLU after it fused into the same call.
//
// Why a module of its own: on the CPU, ATen's conv2d sends small inputs (batch 1 through the
// 6x6 and 3x3 Inception layers) to its im2col + GEMM path, and then runs each ReLU as a second
// pass. For one face that is most of nn4's latency. Here every float32 CPU call goes to oneDNN's
// convolution with the ReLU as a post-op (ATen's mkldnn::_convolution_pointwise, what
// torch.compile emits on CPU), with the weights laid out once in oneDNN's blocked format rather
// than on every call. Measured on 2 AVX2 cores (experiments/bench/README.md): nn4.small2's batch-1
// latency 5.3-6.0 -> 4.0-4.4 ms. bfloat16 takes the same path where the CPU computes it natively
// (on 2 AMX cores: batch 1 3.4 -> 1.9 ms, batch 96 1,370 -> 1,720 images/s). Other devices and
// dtypes take plain conv2d + relu.
// Inference only: the weights take no gradient, and must not change after the first call (the
// blocked copies are made then, one per batch size and dtype, at most kMaxPacks).
#pragma once
#include <torch/nn.h>

#include <map>
#include <mutex>

namespace face {

class FoldedConvImpl : public torch::nn::Module {
 public:
  // A convolution of `options` (zero padding) with the folded `weight` and `bias`, and whether
  // a ReLU follows it.
  FoldedConvImpl(const torch::nn::detail::ConvNdOptions<2>& options, torch::Tensor weight, torch::Tensor bias, bool relu);
  torch::Tensor forward(const torch::Tensor& x);
  bool relu() const { return relu_; }

 private:
  torch::Tensor packed_weight(const torch::Tensor& x);

  static constexpr size_t kMaxPacks = 4;
  torch::Tensor weight_, bias_;
  std::mutex mutex_;
  std::map<std::pair<int64_t, c10::ScalarType>, torch::Tensor> packed_;  // (batch size, dtype) -> weight in oneDNN's layout
  std::vector<int64_t> stride_, padding_, dilation_;
  int64_t groups_;
  bool relu_;
};
TORCH_MODULE(FoldedConv);

}  // namespace face
