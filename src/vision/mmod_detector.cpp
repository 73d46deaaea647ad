#include "vision/mmod_detector.h"

#include <dlib/image_transforms.h>
#include <dlib/opencv.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

namespace face {

// ---- the network ----------------------------------------------------------------------------

void MmodNetImpl::add_conv(torch::Tensor weight, torch::Tensor bias, const Conv& g) {
  auto options = torch::nn::Conv2dOptions(weight.size(1), weight.size(0), {g.kernel_rows, g.kernel_cols})
                     .stride({g.stride_y, g.stride_x})
                     .padding({g.padding_y, g.padding_x});
  auto conv = register_module("conv" + std::to_string(convs_.size()), torch::nn::Conv2d(options));
  torch::NoGradGuard no_grad;
  conv->weight.copy_(weight);
  conv->bias.copy_(bias);
  steps_.push_back({Kind::conv, convs_.size()});
  convs_.push_back(conv);
  geometry_.push_back(g);
}

void MmodNetImpl::add_affine(torch::Tensor scale, torch::Tensor shift) {
  auto n = std::to_string(scales_.size());
  steps_.push_back({Kind::affine, scales_.size()});
  scales_.push_back(register_buffer("scale" + n, scale.view({1, -1, 1, 1}).contiguous()));
  shifts_.push_back(register_buffer("shift" + n, shift.view({1, -1, 1, 1}).contiguous()));
}

void MmodNetImpl::add_relu() { steps_.push_back({Kind::relu, 0}); }

void MmodNetImpl::set_precision(Precision precision) {
  // Each affine folded into the convolution before it (one pass over the activations less per
  // layer) and the weights in channels-last, which oneDNN's blocked kernels take directly: in
  // fp32 the scores move by float rounding only (the parity test holds them to dlib's within
  // 1e-3, boxes to IoU 0.95). bf16 then converts every layer but the last convolution.
  torch::NoGradGuard no_grad;
  std::vector<Step> folded;
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (steps_[i].kind == Kind::affine && !folded.empty() && folded.back().kind == Kind::conv) {
      auto& conv = convs_[folded.back().index];
      const auto& scale = scales_[steps_[i].index];
      conv->weight.mul_(scale.view({-1, 1, 1, 1}));
      conv->bias.mul_(scale.view({-1})).add_(shifts_[steps_[i].index].view({-1}));
      continue;
    }
    folded.push_back(steps_[i]);
  }
  steps_ = folded;
  if (precision == Precision::bf16) to(torch::kBFloat16);
  for (auto& conv : convs_) conv->weight.set_data(conv->weight.contiguous(torch::MemoryFormat::ChannelsLast));
  if (!convs_.empty()) convs_.back()->to(torch::kFloat32);
}

torch::Tensor MmodNetImpl::forward(torch::Tensor x) {
  for (const auto& s : steps_) {
    switch (s.kind) {
      case Kind::conv: {
        const auto type = convs_[s.index]->weight.scalar_type();
        if (x.scalar_type() != type) x = x.to(type);
        x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        x = convs_[s.index]->forward(x);
        break;
      }
      case Kind::affine: x = torch::addcmul(shifts_[s.index], x, scales_[s.index]); break;
      case Kind::relu: x = torch::relu_(x); break;
    }
  }
  return x;
}

cv::Point2d MmodNetImpl::output_to_input(cv::Point2d p) const {
  // dlib's con_::map_output_to_input, from the last convolution back to the first (integer
  // kernel / 2, as dlib's nr() / 2); affine and relu layers map points to themselves.
  for (size_t i = geometry_.size(); i-- > 0;) {
    const Conv& g = geometry_[i];
    p.x = p.x * g.stride_x - g.padding_x + g.kernel_cols / 2;
    p.y = p.y * g.stride_y - g.padding_y + g.kernel_rows / 2;
  }
  return p;
}

cv::Size MmodNetImpl::output_size(cv::Size input) const {
  for (const Conv& g : geometry_) {
    int cols = input.width + 2 * g.padding_x - g.kernel_cols, rows = input.height + 2 * g.padding_y - g.kernel_rows;
    if (cols < 0 || rows < 0) return cv::Size(0, 0);
    input = cv::Size(cols / g.stride_x + 1, rows / g.stride_y + 1);
  }
  return input;
}

int64_t MmodNetImpl::output_channels() const { return convs_.empty() ? 0 : convs_.back()->weight.size(0); }

int64_t MmodNetImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& c : convs_) n += c->weight.numel() + c->bias.numel();
  for (size_t i = 0; i < scales_.size(); ++i) n += scales_[i].numel() + shifts_[i].numel();
  return n;
}

// ---- the tiled pyramid ----------------------------------------------------------------------

namespace {

constexpr int kPyramidN = 6;         // pyramid_down<6>: each level 5/6 of the one before
constexpr long kMinLevelRows = 5;    // dlib stops below this height

// dlib's rectangle arithmetic (inclusive corners), enough for tiles and boxes.
struct Box {
  double l, t, r, b;
};
struct IntBox {
  long l, t, r, b;
  long width() const { return empty() ? 0 : r - l + 1; }
  long height() const { return empty() ? 0 : b - t + 1; }
  long area() const { return width() * height(); }
  bool empty() const { return t > b || l > r; }
  bool contains(long x, long y) const { return x >= l && x <= r && y >= t && y <= b; }
  IntBox intersect(const IntBox& o) const {
    return {std::max(l, o.l), std::max(t, o.t), std::min(r, o.r), std::min(b, o.b)};
  }
  IntBox bounding(const IntBox& o) const {  // dlib's rectangle + rectangle
    if (o.empty()) return *this;
    if (empty()) return o;
    return {std::min(l, o.l), std::min(t, o.t), std::max(r, o.r), std::max(b, o.b)};
  }
};

long round_half_up(double v) { return static_cast<long>(std::floor(v + 0.5)); }  // dlib's double -> long
IntBox rounded(const Box& b) { return {round_half_up(b.l), round_half_up(b.t), round_half_up(b.r), round_half_up(b.b)}; }
IntBox to_int_box(const cv::Rect& r) { return {r.x, r.y, r.x + r.width - 1, r.y + r.height - 1}; }

// The tile nearest a point: the first that contains it, else the one with the nearest edge.
size_t nearest_level(const std::vector<cv::Rect>& levels, long x, long y) {
  size_t best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < levels.size(); ++i) {
    IntBox t = to_int_box(levels[i]);
    if (t.contains(x, y)) return i;
    double dx = static_cast<double>(std::clamp(x, t.l, t.r) - x), dy = static_cast<double>(std::clamp(y, t.t, t.b) - y);
    double distance = std::sqrt(dx * dx + dy * dy);
    if (distance < best_distance) best_distance = distance, best = i;
  }
  return best;
}

// dlib's test_box_overlap: intersection over the smallest box containing both (not over the
// union), or either box covered by more than `covered`.
bool overlaps(const IntBox& a, const IntBox& b, double iou, double covered) {
  double inner = static_cast<double>(a.intersect(b).area());
  if (inner == 0) return false;
  double outer = static_cast<double>(a.bounding(b).area());
  return inner / outer > iou || inner / a.area() > covered || inner / b.area() > covered;
}

}  // namespace

std::vector<cv::Rect> tiled_pyramid_levels(int rows, int cols, int padding, int outer_padding, cv::Size& tensor_size) {
  tensor_size = cv::Size(0, 0);
  std::vector<cv::Rect> levels;
  if (long(rows) * cols == 0) return levels;
  const double rate = (kPyramidN - 1.0) / kPyramidN;
  long nr = rows, nc = cols;
  levels.emplace_back(0, 0, cols, rows);
  while (true) {
    nr = static_cast<long>(std::floor(rate * nr));
    nc = static_cast<long>(std::floor(rate * nc));
    if (nr * nc == 0 || nr < kMinLevelRows) break;
    levels.emplace_back(0, 0, static_cast<int>(nc), static_cast<int>(nr));
  }
  const long pad = padding, outer = outer_padding, w0 = cols, h0 = rows;
  long total_height = -2 * pad;
  for (const auto& l : levels) total_height += l.height + pad;
  // The first column goes down until the next level fits beside the previous one and the
  // column is at least half the total: the rest then doubles back up the right-hand side.
  // dlib makes both comparisons in unsigned arithmetic (its rectangle sizes are unsigned long),
  // so they are made so here: a negative side wraps, which decides how small images tile.
  using U = unsigned long;
  long height = 0, prev_width = 0;
  for (const auto& l : levels) {
    if (U(l.width) <= U(w0 - prev_width - pad) && (U(height) - U(h0)) * 2 >= U(total_height) - U(h0)) break;
    height += l.height + pad;
    prev_width = l.width;
  }
  height -= pad;
  tensor_size = cv::Size(static_cast<int>(w0 + 2 * outer), static_cast<int>(height + 2 * outer));

  long y = outer;
  size_t i = 0;
  for (; y < height + outer && i < levels.size(); ++i) {
    levels[i].x = static_cast<int>(outer);
    levels[i].y = static_cast<int>(y);
    y += levels[i].height + pad;
  }
  y -= pad;
  const IntBox first = to_int_box(levels[0]);
  for (; i < levels.size(); ++i) {
    long right = outer + w0 - 1, bottom = y - 1;  // this level's bottom-right corner
    IntBox tile{right - levels[i].width + 1, bottom - levels[i].height + 1, right, bottom};
    if (!first.intersect(tile).empty()) break;  // the last levels would overlap the image: dropped
    levels[i] = cv::Rect(static_cast<int>(tile.l), static_cast<int>(tile.t), levels[i].width, levels[i].height);
    y -= levels[i].height + pad;
  }
  levels.resize(i);
  // For some small images dlib's tiling puts a level outside the tensor (and dlib's own
  // to_tensor then writes outside it): such an image has no usable pyramid.
  const cv::Rect inside(0, 0, tensor_size.width, tensor_size.height);
  for (const auto& l : levels)
    if ((l & inside) != l) {
      levels.clear();
      break;
    }
  return levels;
}

torch::Tensor tiled_pyramid(const cv::Mat& rgb, const MmodConfig& config, std::vector<cv::Rect>& levels) {
  if (rgb.empty() || rgb.type() != CV_8UC3) fail("MMOD detection needs an 8-bit 3-channel RGB image");
  cv::Size size;
  levels = tiled_pyramid_levels(rgb.rows, rgb.cols, config.pyramid_padding, config.pyramid_outer_padding, size);
  torch::Tensor input = torch::zeros({1, 3, size.height, size.width});
  if (levels.empty()) return input;
  float* data = input.data_ptr<float>();
  const long stride = size.width, plane = long(size.width) * size.height;
  const cv::Rect& top = levels[0];
  for (int ch = 0; ch < 3; ++ch)
    for (int r = 0; r < rgb.rows; ++r) {
      const auto* row = rgb.ptr<cv::Vec3b>(r);
      float* out = data + ch * plane + (top.y + r) * stride + top.x;
      for (int c = 0; c < rgb.cols; ++c) out[c] = static_cast<float>((row[c][ch] - config.mean_rgb[ch]) / 256.0);
    }
  // Each level from the one above it, per channel, with dlib's own bilinear resize (the same
  // arithmetic dlib's CPU tt::resize_bilinear uses), so the pyramid matches dlib's.
  for (size_t i = 1; i < levels.size(); ++i) {
    const cv::Rect &from = levels[i - 1], &to = levels[i];
    for (int ch = 0; ch < 3; ++ch) {
      const float* src = data + ch * plane + from.y * stride + from.x;
      float* dst = data + ch * plane + to.y * stride + to.x;
      auto source = dlib::sub_image(src, from.height, from.width, stride);
      auto target = dlib::sub_image(dst, to.height, to.width, stride);
      dlib::resize_image(source, target);
    }
  }
  return input;
}

// ---- detection ------------------------------------------------------------------------------

MmodDetector::MmodDetector(const std::filesystem::path& dat, Precision precision)
    : model_(import_mmod(dat)), precision_(precision) {
  model_.net->set_precision(precision_);
}

std::vector<MmodDetection> MmodDetector::detect(const cv::Mat& rgb, int upsample, double threshold) {
  if (rgb.empty() || rgb.type() != CV_8UC3) fail("MMOD detection needs an 8-bit 3-channel RGB image");
  if (upsample < 0 || upsample > 4) fail("MMOD detector upsampling {} is outside 0..4", upsample);
  cv::Mat image = rgb;
  dlib::matrix<dlib::rgb_pixel> doubled;  // the Python binding's pyramid_up with pyramid_down<2>
  if (upsample > 0) {
    dlib::assign_image(doubled, dlib::cv_image<dlib::rgb_pixel>(rgb.isContinuous() ? rgb : rgb.clone()));
    for (int i = 0; i < upsample; ++i) dlib::pyramid_up(doubled, dlib::pyramid_down<2>());
    image = dlib::toMat(doubled);
  }
  std::vector<cv::Rect> levels;
  torch::Tensor input = tiled_pyramid(image, model_.config, levels);
  if (levels.empty() || !model_.net->output_size(cv::Size(input.size(3), input.size(2))).area()) return {};
  torch::Tensor scores;
  {
    torch::NoGradGuard no_grad;
    scores = model_.net->forward(input).contiguous();
  }
  if (scores.size(1) != 1) fail("MMOD network gives {} channels, expected 1", scores.size(1));
  const int64_t out_rows = scores.size(2), out_cols = scores.size(3);
  const float* s = scores.data_ptr<float>();
  const MmodConfig& cfg = model_.config;
  const double half_w = (cfg.window_width - 1) / 2.0, half_h = (cfg.window_height - 1) / 2.0;

  struct Candidate {
    Box box;
    double score;
  };
  std::vector<Candidate> candidates;
  for (int64_t r = 0; r < out_rows; ++r)
    for (int64_t c = 0; c < out_cols; ++c) {
      double score = s[r * out_cols + c];
      if (!(score > threshold)) continue;
      cv::Point2d p = model_.net->output_to_input(cv::Point2d(double(c), double(r)));
      Box window{p.x - half_w, p.y - half_h, p.x + half_w, p.y + half_h};
      // From the tile the window's centre falls in, up that many pyramid levels to the image.
      size_t level = nearest_level(levels, round_half_up((window.l + window.r) / 2), round_half_up((window.t + window.b) / 2));
      double ox = levels[level].x, oy = levels[level].y;
      Box box{window.l - ox, window.t - oy, window.r - ox, window.b - oy};
      const double up = kPyramidN / (kPyramidN - 1.0);
      for (size_t k = 0; k < level; ++k) box = {box.l * up + 0.3, box.t * up + 0.3, box.r * up + 0.3, box.b * up + 0.3};
      candidates.push_back({box, score});
    }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });

  std::vector<IntBox> kept_boxes;
  std::vector<MmodDetection> kept;
  dlib::pyramid_down<2> halve;
  for (const auto& cand : candidates) {
    IntBox box = rounded(cand.box);
    bool suppressed = std::any_of(kept_boxes.begin(), kept_boxes.end(), [&](const IntBox& k) {
      return overlaps(k, box, cfg.nms_iou, cfg.nms_covered);
    });
    if (suppressed) continue;
    kept_boxes.push_back(box);
    if (upsample > 0) {  // back through the doublings, as the Python binding maps its boxes
      dlib::drectangle down = halve.rect_down(dlib::drectangle(dlib::rectangle(box.l, box.t, box.r, box.b)), upsample);
      box = rounded({down.left(), down.top(), down.right(), down.bottom()});
    }
    kept.push_back({cv::Rect(static_cast<int>(box.l), static_cast<int>(box.t), static_cast<int>(box.width()),
                             static_cast<int>(box.height())),
                    cand.score});
  }
  return kept;
}

}  // namespace face
