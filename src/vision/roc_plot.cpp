#include "vision/roc_plot.h"

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "util/atomic_file.h"
#include "util/error.h"

namespace face {

namespace {

const cv::Scalar kBlack(0, 0, 0), kGrid(225, 225, 225), kCurve(120, 60, 0), kGrey(150, 150, 150);
const cv::Scalar kRed(40, 40, 220), kBlue(200, 90, 20), kGreen(40, 150, 40);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Maps (FAR, TAR) into the plot rectangle.
struct Axes {
  cv::Rect area;
  bool log_far;
  double log_min;  // log10 of the left end when log_far

  double x_fraction(double far) const {
    if (!log_far) return far;
    double l = far > 0 ? std::log10(far) : log_min;
    return std::clamp((l - log_min) / (0.0 - log_min), 0.0, 1.0);
  }
  cv::Point point(double far, double tar) const {
    return {area.x + static_cast<int>(std::lround(x_fraction(far) * area.width)),
            area.y + area.height - static_cast<int>(std::lround(std::clamp(tar, 0.0, 1.0) * area.height))};
  }
};

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, const cv::Scalar& colour,
          int thickness = 1) {
  cv::putText(img, s, at, kFont, scale, colour, thickness, cv::LINE_AA);
}

// Text centred horizontally on `x`, its baseline at `y`.
void centred_text(cv::Mat& img, const std::string& s, int x, int y, double scale, int thickness = 1) {
  int baseline = 0;
  cv::Size size = cv::getTextSize(s, kFont, scale, thickness, &baseline);
  text(img, s, {x - size.width / 2, y}, scale, kBlack, thickness);
}

// A label drawn sideways (reading bottom to top), centred on (x, y).
void vertical_text(cv::Mat& img, const std::string& s, int x, int y, double scale) {
  int baseline = 0;
  cv::Size size = cv::getTextSize(s, kFont, scale, 1, &baseline);
  cv::Mat label(size.height + baseline + 4, size.width + 4, CV_8UC3, cv::Scalar(255, 255, 255));
  text(label, s, {2, size.height + 2}, scale, kBlack);
  cv::Mat rotated;
  cv::rotate(label, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
  cv::Rect to(x - rotated.cols / 2, y - rotated.rows / 2, rotated.cols, rotated.rows);
  to &= cv::Rect(0, 0, img.cols, img.rows);
  rotated(cv::Rect(0, 0, to.width, to.height)).copyTo(img(to));
}

void dashed_polyline(cv::Mat& img, const std::vector<cv::Point>& pts, const cv::Scalar& colour) {
  for (size_t i = 1; i < pts.size(); i += 2) cv::line(img, pts[i - 1], pts[i], colour, 1, cv::LINE_AA);
}

std::string far_tick_label(int exponent) {
  if (exponent == 0) return "1";
  return fmt::format("1e{}", exponent);
}

std::string far_label(double far) {
  int e = static_cast<int>(std::lround(std::log10(far)));
  return std::abs(far - std::pow(10.0, e)) < 1e-12 * far ? fmt::format("1e{}", e) : fmt::format("{}", far);
}

// The ROC point whose threshold is nearest `threshold`.
const RocPoint& roc_at(const VerificationMetrics& m, double threshold) {
  return *std::min_element(m.roc.begin(), m.roc.end(), [&](const RocPoint& a, const RocPoint& b) {
    return std::abs(a.threshold - threshold) < std::abs(b.threshold - threshold);
  });
}

}  // namespace

cv::Mat draw_roc(const VerificationMetrics& m, const RocPlotOptions& o) {
  if (o.width < 300 || o.height < 300) fail("ROC plot: {}x{} is too small (300x300 at least)", o.width, o.height);
  cv::Mat img(o.height, o.width, CV_8UC3, cv::Scalar(255, 255, 255));
  double min_far = o.min_far;
  if (min_far <= 0)
    min_far = o.different_pairs > 0 ? std::pow(10.0, std::floor(std::log10(1.0 / o.different_pairs))) : 1e-4;
  Axes ax{cv::Rect(95, 60, o.width - 95 - 30, o.height - 60 - 80), o.log_far, std::log10(min_far)};
  if (ax.log_min >= 0) fail("ROC plot: min_far {} must be below 1", min_far);

  // Grid and ticks.
  for (int i = 0; i <= 10; ++i) {
    double tar = i / 10.0;
    cv::Point a = ax.point(o.log_far ? min_far : 0.0, tar), b = ax.point(1.0, tar);
    cv::line(img, a, b, kGrid, 1);
    cv::line(img, a, a - cv::Point(6, 0), kBlack, 1);
    text(img, fmt::format("{:.1f}", tar), a - cv::Point(45, -5), 0.5, kBlack);
  }
  std::vector<std::pair<double, std::string>> xticks;
  if (o.log_far) {
    for (int e = static_cast<int>(std::ceil(ax.log_min)); e <= 0; ++e) xticks.push_back({std::pow(10.0, e), far_tick_label(e)});
  } else {
    for (int i = 0; i <= 10; ++i) xticks.push_back({i / 10.0, fmt::format("{:.1f}", i / 10.0)});
  }
  for (const auto& [far, label] : xticks) {
    cv::Point a = ax.point(far, 0.0), b = ax.point(far, 1.0);
    cv::line(img, a, b, kGrid, 1);
    cv::line(img, a, a + cv::Point(0, 6), kBlack, 1);
    centred_text(img, label, a.x, a.y + 25, 0.5);
  }
  cv::rectangle(img, ax.area, kBlack, 1);
  centred_text(img, o.log_far ? "false accept rate (FAR, log scale)" : "false accept rate (FAR)",
               ax.area.x + ax.area.width / 2, o.height - 25, 0.6);
  vertical_text(img, "true accept rate (TAR, VAL)", 25, ax.area.y + ax.area.height / 2, 0.6);
  centred_text(img, o.title, o.width / 2, 35, 0.65, 1);

  // Chance line, then the curve.
  std::vector<cv::Point> chance;
  for (int i = 0; i <= 200; ++i) {
    double far = o.log_far ? std::pow(10.0, ax.log_min * (1.0 - i / 200.0)) : i / 200.0;
    chance.push_back(ax.point(far, far));
  }
  dashed_polyline(img, chance, kGrey);
  std::vector<cv::Point> curve;
  for (const auto& p : m.roc) {
    if (o.log_far && p.far > 0 && curve.empty()) curve.push_back(ax.point(0.0, 0.0));  // enter at the left edge
    cv::Point q = ax.point(p.far, p.tar);
    if (curve.empty() || q != curve.back()) curve.push_back(q);
  }
  cv::polylines(img, curve, false, kCurve, 2, cv::LINE_AA);

  // Operating points and the legend.
  std::vector<std::pair<cv::Scalar, std::string>> legend;
  legend.push_back({kCurve, fmt::format("ROC (AUC {:.4f})", m.auc)});
  for (const auto& v : m.val) {
    cv::Point p = ax.point(v.far_mean, v.val_mean);
    cv::rectangle(img, p - cv::Point(5, 5), p + cv::Point(5, 5), kBlue, 2, cv::LINE_AA);
    legend.push_back({kBlue, fmt::format("VAL@FAR={}: {:.4f} +- {:.4f} (FAR {:.4f})", far_label(v.far_target),
                                         v.val_mean, v.val_std, v.far_mean)});
  }
  if (!m.roc.empty()) {
    const RocPoint& best = roc_at(m, m.best_threshold);
    cv::circle(img, ax.point(best.far, best.tar), 7, kRed, 2, cv::LINE_AA);
    legend.push_back({kRed, fmt::format("best threshold {:.4f}: acc {:.4f} (FAR {:.4f}, TAR {:.4f})", m.best_threshold,
                                        m.best_accuracy, best.far, best.tar)});
  }
  cv::Point e = ax.point(m.eer, 1.0 - m.eer);
  std::vector<cv::Point> diamond = {e + cv::Point(0, -8), e + cv::Point(8, 0), e + cv::Point(0, 8), e + cv::Point(-8, 0)};
  cv::polylines(img, diamond, true, kGreen, 2, cv::LINE_AA);
  legend.push_back({kGreen, fmt::format("EER {:.4f}", m.eer)});
  legend.push_back({kBlack, fmt::format("10-fold accuracy {:.4f} +- {:.4f}", m.accuracy_mean, m.accuracy_std)});

  int line_h = 22, box_w = 470, box_h = line_h * static_cast<int>(legend.size()) + 10;
  cv::Rect box(ax.area.x + ax.area.width - box_w - 10, ax.area.y + ax.area.height - box_h - 10, box_w, box_h);
  cv::rectangle(img, box, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::rectangle(img, box, kGrey, 1);
  for (size_t i = 0; i < legend.size(); ++i) {
    int y = box.y + 20 + static_cast<int>(i) * line_h;
    cv::line(img, {box.x + 8, y - 5}, {box.x + 28, y - 5}, legend[i].first, 3, cv::LINE_AA);
    text(img, legend[i].second, {box.x + 36, y}, 0.45, kBlack);
  }
  return img;
}

void write_roc_png(const std::filesystem::path& path, const VerificationMetrics& metrics, const RocPlotOptions& options) {
  std::vector<uchar> png;
  if (!cv::imencode(".png", draw_roc(metrics, options), png)) fail("'{}': cannot encode the ROC plot", path.string());
  write_file_atomic(path, std::string(png.begin(), png.end()));
}

}  // namespace face
