#include "model/folded_conv.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include "model/precision.h"

namespace face {

namespace {

std::vector<int64_t> pair_of(const torch::ExpandingArray<2>& a) { return {a->at(0), a->at(1)}; }

// mkldnn::_convolution_pointwise(X, W, B, padding, stride, dilation, groups, attr, scalars,
// algorithm): registered by ATen when it is built with oneDNN (the PyPI wheels are).
const c10::OperatorHandle* pointwise_convolution() {
  static const auto handle = c10::Dispatcher::singleton().findSchema({"mkldnn::_convolution_pointwise", ""});
  return handle ? &*handle : nullptr;
}

// fp32 always; bf16 only where the CPU computes it natively (elsewhere oneDNN's emulation is
// slower than ATen's conv2d fallback, and the two give the same numbers).
bool one_dnn_computes(c10::ScalarType type) {
  if (type == torch::kFloat32) return true;
  static const bool native_bf16 = has_native_bf16(torch::kCPU);
  return type == torch::kBFloat16 && native_bf16;
}

}  // namespace

FoldedConvImpl::FoldedConvImpl(const torch::nn::detail::ConvNdOptions<2>& options, torch::Tensor weight, torch::Tensor bias,
                               bool relu)
    : stride_(pair_of(options.stride())), dilation_(pair_of(options.dilation())), groups_(options.groups()),
      relu_(relu) {
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&options.padding());
  TORCH_CHECK(padding && options.padding_mode().index() == 0, "FoldedConv: only explicit zero padding is supported");
  padding_ = pair_of(*padding);
  TORCH_CHECK(bias.defined() && weight.dim() == 4 && bias.size(0) == weight.size(0), "FoldedConv: a 4-d weight and its bias");
  // Parameters that take no gradient, so that to(), use_channels_last and the weights' dtype
  // treat them as they treat any layer's weights.
  weight_ = register_parameter("weight", weight.detach().clone(), /*requires_grad=*/false);
  bias_ = register_parameter("bias", bias.detach().clone(), /*requires_grad=*/false);
}

torch::Tensor FoldedConvImpl::packed_weight(const torch::Tensor& x) {
  // oneDNN's blocked weight layout depends on the input's shape (the batch size among it), and a
  // layout packed for one shape is re-laid out on every call of another: one pack per batch size.
  // The dtype is part of the key: a module converted with to() after its first call must not
  // reuse the copies laid out from the old weights.
  std::lock_guard<std::mutex> lock(mutex_);
  const auto key = std::make_pair(x.size(0), weight_.scalar_type());
  auto it = packed_.find(key);
  if (it != packed_.end()) return it->second;
  if (packed_.size() >= kMaxPacks) return weight_;  // many sizes: ATen re-lays the weight out per call
  static const auto reorder = c10::Dispatcher::singleton().findSchemaOrThrow("aten::mkldnn_reorder_conv2d_weight", "");
  std::vector<c10::IValue> stack{weight_.to_mkldnn(), c10::IValue(padding_), c10::IValue(stride_),
                                 c10::IValue(dilation_), c10::IValue(groups_), c10::IValue(x.sizes().vec())};
  reorder.callBoxed(stack);
  return packed_[key] = stack.at(0).toTensor();
}

torch::Tensor FoldedConvImpl::forward(const torch::Tensor& x) {
  const auto* pointwise = pointwise_convolution();
  if (pointwise && x.device().is_cpu() && weight_.device().is_cpu() && x.scalar_type() == weight_.scalar_type() &&
      one_dnn_computes(x.scalar_type())) {
    std::vector<c10::IValue> stack{x, packed_weight(x), bias_,
                                   c10::IValue(padding_), c10::IValue(stride_), c10::IValue(dilation_),
                                   c10::IValue(groups_), c10::IValue(relu_ ? "relu" : "none"),
                                   c10::IValue(c10::List<std::optional<at::Scalar>>()), c10::IValue()};
    pointwise->callBoxed(stack);
    return stack.at(0).toTensor();
  }
  auto y = torch::conv2d(x, weight_, bias_, stride_, padding_, dilation_, groups_);
  return relu_ ? y.relu_() : y;
}

}  // namespace face
