#include "model/inception.h"

#include "model/folded_conv.h"

namespace face {

namespace nn = torch::nn;

int64_t InceptionSpec::out_channels() const {
  int64_t total = one_by_one;
  for (const auto& c : convs) total += c.out;
  if (pool.kind != PoolKind::none) total += pool.project > 0 ? pool.project : in_channels;
  return total;
}

nn::Sequential conv_bn_relu(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding)),
                        nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(1e-5)),
                        nn::ReLU(nn::ReLUOptions().inplace(true)));
}

namespace {

// The layer at `it` if it is an M (and `it` is not past the end), else null.
template <class M, class Iterator>
M* layer_as(Iterator it, Iterator end) {
  return it < end ? it->ptr()->template as<M>() : nullptr;
}

}  // namespace

nn::Sequential fold_batch_norm(const nn::Sequential& layers) {
  torch::NoGradGuard no_grad;
  nn::Sequential folded;
  const auto end = layers->end();
  for (auto it = layers->begin(); it != end; ++it) {
    auto* conv = it->ptr()->as<nn::Conv2d>();
    auto* bn = layer_as<nn::BatchNorm2dImpl>(it + 1, end);
    if (conv && bn && conv->options.bias()) {
      // bn(conv(x)) = gamma (w * x + b - mean) / sqrt(var + eps) + beta
      auto scale = bn->weight / (bn->running_var + bn->options.eps()).sqrt();
      auto weight = conv->weight * scale.view({-1, 1, 1, 1});
      auto bias = (conv->bias - bn->running_mean) * scale + bn->bias;
      const bool relu = layer_as<nn::ReLUImpl>(it + 2, end) != nullptr;
      folded->push_back(FoldedConv(conv->options, weight, bias, relu));
      it += relu ? 2 : 1;
      continue;
    }
    if (auto* inception = it->ptr()->as<Inception>()) inception->fold_batch_norm();
    folded->push_back(*it);
  }
  return folded;
}

void InceptionImpl::fold_batch_norm() {
  for (size_t i = 0; i < branches_.size(); ++i)
    branches_[i] = replace_module("branch" + std::to_string(i), face::fold_batch_norm(branches_[i]));
}

InceptionImpl::InceptionImpl(const InceptionSpec& spec) {
  for (const auto& c : spec.convs) {
    nn::Sequential branch;
    branch->extend(*conv_bn_relu(spec.in_channels, c.reduce, 1));
    branch->extend(*conv_bn_relu(c.reduce, c.out, c.kernel, c.stride, c.kernel / 2));
    branches_.push_back(branch);
  }
  if (spec.pool.kind != PoolKind::none) {
    nn::Sequential branch;
    const auto& p = spec.pool;
    if (p.kind == PoolKind::max) {
      branch->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(p.kernel).stride(p.stride).padding(p.padding)));
    } else {
      // L2 pool: sqrt of the sum of squares over the window. LPPool2d has no padding.
      TORCH_CHECK(p.padding == 0, "L2 pooling takes no padding");
      branch->push_back(nn::LPPool2d(nn::LPPool2dOptions(2, p.kernel).stride(p.stride)));
    }
    if (p.project > 0) branch->extend(*conv_bn_relu(spec.in_channels, p.project, 1));
    branches_.push_back(branch);
  }
  if (spec.one_by_one > 0) branches_.push_back(conv_bn_relu(spec.in_channels, spec.one_by_one, 1));
  for (size_t i = 0; i < branches_.size(); ++i) register_module("branch" + std::to_string(i), branches_[i]);
}

torch::Tensor InceptionImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> outs;
  outs.reserve(branches_.size());
  int64_t height = 0, width = 0;
  for (auto& branch : branches_) {
    outs.push_back(branch->forward(x));
    height = std::max(height, outs.back().size(2));
    width = std::max(width, outs.back().size(3));
  }
  for (auto& o : outs) {
    int64_t dh = height - o.size(2), dw = width - o.size(3);
    if (dh || dw) o = torch::constant_pad_nd(o, {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2}, 0);
  }
  return torch::cat(outs, 1);
}

}  // namespace face
