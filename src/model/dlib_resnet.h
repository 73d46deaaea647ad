// dlib_resnet.h: dlib's ResNet face model (dlib_face_recognition_resnet_model_v1.dat) as a
// LibTorch module: the project's teacher and reference embedder.
//
//   input   (m, 3, 150, 150) float RGB in [0, 1] (data/normalisation.h), dlib face chips
//           (vision/face_aligner.h, template dlib-chip, padding 0.25)
//   output  (m, 128) float, every row L2-normalised
//
// The topology is dlib's `anet_type` from dnn_face_recognition_ex.cpp, in forward order:
//   (x * 255 - mean_rgb) / 256                       dlib's input_rgb_image normalisation
//   conv 7x7/2 (32) -> affine -> relu -> max-pool 3x3/2
//   residual stages: 3 x 32, down + 3 x 64, down + 2 x 128, down + 2 x 256, down 256
//   global average -> linear 256 -> 128 (no bias)
// A residual block is conv 3x3 -> affine -> relu -> conv 3x3 -> affine, added to its input, then
// relu. A "down" block's first convolution has stride 2 and its shortcut is a 2x2/2 average pool.
// dlib pads strided convolutions and pools by 0 and 3x3/1 convolutions by 1; where a block's
// output and its shortcut differ in size (channels, or 3x3 against 4x4 late in the network), dlib
// adds them as if the smaller were zero-extended at the end, which `add_zero_extended` copies.
// "affine" is dlib's frozen batch norm: a per-channel scale and shift.
//
// The weights come only from dlib's file (vision/dlib_resnet_import.h reads it with dlib's own
// deserializer); a fresh module holds deterministic random weights, for tests.
#pragma once
#include <torch/nn.h>

#include <array>
#include <vector>

namespace face {

constexpr int64_t kDlibChipSize = 150;
constexpr double kDlibChipPadding = 0.25;

// Per-channel y = scale * x + shift (dlib's `affine` layer, a batch norm folded at training's end).
class ChannelAffineImpl : public torch::nn::Module {
 public:
  explicit ChannelAffineImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor scale, shift;
};
TORCH_MODULE(ChannelAffine);

class DlibResidualImpl : public torch::nn::Module {
 public:
  DlibResidualImpl(int64_t in_channels, int64_t out_channels, bool down);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv_a{nullptr}, conv_b{nullptr};
  ChannelAffine affine_a{nullptr}, affine_b{nullptr};
  bool down;
};
TORCH_MODULE(DlibResidual);

class DlibResNetImpl : public torch::nn::Module {
 public:
  DlibResNetImpl();
  // Unit-norm embeddings of a float batch in [0, 1] (any spatial size; 150 x 150 as trained).
  torch::Tensor forward(const torch::Tensor& images);

  torch::nn::Conv2d stem{nullptr};
  ChannelAffine stem_affine{nullptr};
  torch::nn::ModuleList blocks;  // DlibResidual, in forward order
  torch::nn::Linear head{nullptr};
  torch::Tensor mean_rgb;        // buffer: dlib's input means on the 0..255 scale

  // Every layer with parameters, in forward order: the order the importer fills them in.
  struct Layers {
    std::vector<torch::nn::Conv2d> convs;
    std::vector<ChannelAffine> affines;
  };
  Layers layers();
};
TORCH_MODULE(DlibResNet);

// a + b where the smaller is treated as zero beyond its end in channels, rows and columns.
torch::Tensor add_zero_extended(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace face
