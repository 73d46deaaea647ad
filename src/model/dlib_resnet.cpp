#include "model/dlib_resnet.h"

#include <torch/torch.h>

#include "model/nn4.h"

namespace face {

namespace nn = torch::nn;

namespace {

// dlib's default padding: none for strided layers, "same" for 3x3 stride 1.
nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(stride == 1 ? kernel / 2 : 0).bias(true));
}

// (channels, blocks, first block downsamples) per stage, input to output.
struct Stage {
  int64_t channels, blocks;
  bool down;
};
constexpr Stage kStages[] = {{32, 3, false}, {64, 4, true}, {128, 3, true}, {256, 3, true}, {256, 1, true}};

}  // namespace

ChannelAffineImpl::ChannelAffineImpl(int64_t channels) {
  scale = register_parameter("scale", torch::ones({channels}));
  shift = register_parameter("shift", torch::zeros({channels}));
}

torch::Tensor ChannelAffineImpl::forward(const torch::Tensor& x) {
  return x * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
}

DlibResidualImpl::DlibResidualImpl(int64_t in_channels, int64_t out_channels, bool down_) : down(down_) {
  conv_a = register_module("conv_a", conv(in_channels, out_channels, 3, down ? 2 : 1));
  affine_a = register_module("affine_a", ChannelAffine(out_channels));
  conv_b = register_module("conv_b", conv(out_channels, out_channels, 3, 1));
  affine_b = register_module("affine_b", ChannelAffine(out_channels));
}

torch::Tensor DlibResidualImpl::forward(const torch::Tensor& x) {
  auto y = affine_b(conv_b(torch::relu(affine_a(conv_a(x)))));
  auto shortcut = down ? torch::avg_pool2d(x, {2, 2}, {2, 2}) : x;
  return torch::relu(add_zero_extended(y, shortcut));
}

torch::Tensor add_zero_extended(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() == b.sizes()) return a + b;
  auto extend = [](const torch::Tensor& t, int64_t c, int64_t h, int64_t w) {
    if (t.size(1) == c && t.size(2) == h && t.size(3) == w) return t;
    return torch::constant_pad_nd(t, {0, w - t.size(3), 0, h - t.size(2), 0, c - t.size(1)}, 0);
  };
  int64_t c = std::max(a.size(1), b.size(1)), h = std::max(a.size(2), b.size(2)), w = std::max(a.size(3), b.size(3));
  return extend(a, c, h, w) + extend(b, c, h, w);
}

DlibResNetImpl::DlibResNetImpl() {
  stem = register_module("stem", conv(3, 32, 7, 2));
  stem_affine = register_module("stem_affine", ChannelAffine(32));
  blocks = register_module("blocks", nn::ModuleList());
  int64_t channels = 32;
  for (const auto& s : kStages)
    for (int64_t b = 0; b < s.blocks; ++b) {
      blocks->push_back(DlibResidual(channels, s.channels, s.down && b == 0));
      channels = s.channels;
    }
  head = register_module("head", nn::Linear(nn::LinearOptions(channels, 128).bias(false)));
  // dlib's input_rgb_image defaults; the importer overwrites them with the file's values.
  mean_rgb = register_buffer("mean_rgb", torch::tensor({122.782, 117.001, 104.298}, torch::kFloat32));
  initialise_weights(*this, 0);
}

torch::Tensor DlibResNetImpl::forward(const torch::Tensor& images) {
  auto x = (images * 255.0 - mean_rgb.view({1, 3, 1, 1})) / 256.0;
  x = torch::max_pool2d(torch::relu(stem_affine(stem(x))), {3, 3}, {2, 2});
  for (auto& block : *blocks) x = block->as<DlibResidual>()->forward(x);
  x = head(x.mean({2, 3}));
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

DlibResNetImpl::Layers DlibResNetImpl::layers() {
  Layers l;
  l.convs.push_back(stem);
  l.affines.push_back(stem_affine);
  for (auto& block : *blocks) {
    auto* b = block->as<DlibResidual>();
    l.convs.push_back(b->conv_a);
    l.affines.push_back(b->affine_a);
    l.convs.push_back(b->conv_b);
    l.affines.push_back(b->affine_b);
  }
  return l;
}

}  // namespace face
