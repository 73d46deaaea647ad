#include "vision/face_alignment_steps.h"

#include <dlib/image_transforms.h>
#include <dlib/opencv.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>

#include "util/error.h"

namespace face::alignment_steps {

namespace {

// Detection runs on at most this many pixels (after upsampling); larger images are scaled down
// for detection only, so a 60-megapixel photo does not need gigabytes of HOG features.
constexpr double kMaxDetectionPixels = 4096.0 * 4096.0;

// The factor an image is scaled down by for detection (1 when it fits the cap after upsampling).
double detection_shrink(const cv::Mat& image, int upsample) {
  double factor = std::pow(2.0, upsample);
  double pixels = double(image.cols) * image.rows * factor * factor;
  return pixels > kMaxDetectionPixels ? std::sqrt(kMaxDetectionPixels / pixels) : 1.0;
}

// MMOD's box -> HOG's, fitted (the mean of each ratio) on the 367 LFW deep-funneled photos, every
// 33rd, where each detector finds exactly one face (HOG upsampled once, MMOD not; bench_detect
// --boxes): HOG's centre lies 0.017 of MMOD's width right of MMOD's centre and 0.069 of its
// height below it (sd 0.06 of each), and its side is 1.065 times MMOD's (sd 0.11). On those
// photos the 68 landmarks found from the mapped box lie on average 1.9% of the outer-eye-corner
// distance from those found from HOG's box, against 2.6% from MMOD's own box.
constexpr double kMmodToHogShiftX = 0.017, kMmodToHogShiftY = 0.069, kMmodToHogScale = 1.065;

}  // namespace

dlib::rectangle hog_like_box(const cv::Rect& m) {
  double cx = m.x + m.width / 2.0 + kMmodToHogShiftX * m.width, cy = m.y + m.height / 2.0 + kMmodToHogShiftY * m.height;
  double w = kMmodToHogScale * m.width, h = kMmodToHogScale * m.height;
  return dlib::rectangle(std::lround(cx - w / 2), std::lround(cy - h / 2), std::lround(cx + w / 2) - 1,
                         std::lround(cy + h / 2) - 1);
}

cv::Mat warp(const cv::Mat& rgb, const cv::Mat& affine, int size) {
  cv::Mat out;
  cv::warpAffine(rgb, out, affine, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
  return out;
}

void check_options(const AlignOptions& o) {
  if (o.size < 8 || o.size > 4096) fail("alignment size {} is outside 8..4096", o.size);
  if (o.upsample < 0 || o.upsample > 4) fail("detector upsampling {} is outside 0..4", o.upsample);
  if (!(o.chip_padding >= 0 && o.chip_padding <= 2)) fail("chip padding {} is outside 0..2", o.chip_padding);
}

dlib::shape_predictor load_predictor(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail("landmark predictor '{}' not found (Debian: apt-get install libdlib-data)", path);
  dlib::shape_predictor predictor;
  try {
    dlib::deserialize(path) >> predictor;
  } catch (const std::exception& e) {
    fail("landmark predictor '{}' cannot be loaded: {}", path, e.what());
  }
  if (predictor.num_parts() != 68)
    fail("landmark predictor '{}' has {} landmarks, alignment needs the 68-point model", path, predictor.num_parts());
  return predictor;
}

std::vector<Detection> detect_faces(dlib::frontal_face_detector& detector, const cv::Mat& image, int upsample) {
  dlib::cv_image<dlib::rgb_pixel> source(image);
  double factor = std::pow(2.0, upsample);
  double shrink = detection_shrink(image, upsample);
  dlib::array2d<dlib::rgb_pixel> scan;
  if (shrink < 1.0) {
    cv::Mat small;
    cv::resize(image, small, cv::Size(), shrink, shrink, cv::INTER_AREA);
    dlib::assign_image(scan, dlib::cv_image<dlib::rgb_pixel>(small));
  } else {
    dlib::assign_image(scan, source);
  }
  for (int i = 0; i < upsample; ++i) dlib::pyramid_up(scan);
  double to_source = 1.0 / (factor * shrink);
  std::vector<dlib::rect_detection> found;
  detector(scan, found);
  std::vector<Detection> out;
  for (const auto& d : found) {
    const auto& r = d.rect;
    out.push_back({dlib::rectangle(std::lround(r.left() * to_source), std::lround(r.top() * to_source),
                                   std::lround(r.right() * to_source), std::lround(r.bottom() * to_source)),
                   cv::Point2d((r.left() + r.right()) / 2.0 * to_source, (r.top() + r.bottom()) / 2.0 * to_source),
                   double(r.width()) * r.height(), d.detection_confidence});
    out.back().landmark_box = out.back().box;
  }
  return out;
}

std::vector<Detection> detect_faces(MmodDetector& detector, const cv::Mat& image, int upsample) {
  double shrink = detection_shrink(image, upsample);
  cv::Mat scan = image;
  if (shrink < 1.0) cv::resize(image, scan, cv::Size(), shrink, shrink, cv::INTER_AREA);
  std::vector<Detection> out;
  for (const auto& d : detector.detect(scan, upsample)) {  // boxes in `scan` pixels (MMOD undoes its doublings)
    const double to_source = 1.0 / shrink;
    cv::Rect box(static_cast<int>(std::lround(d.box.x * to_source)), static_cast<int>(std::lround(d.box.y * to_source)),
                 static_cast<int>(std::lround(d.box.width * to_source)),
                 static_cast<int>(std::lround(d.box.height * to_source)));
    out.push_back({dlib::rectangle(box.x, box.y, box.x + box.width - 1, box.y + box.height - 1),
                   cv::Point2d(box.x + (box.width - 1) / 2.0, box.y + (box.height - 1) / 2.0),
                   double(box.width) * box.height, d.score, hog_like_box(box)});
  }
  return out;
}

bool align_detection(dlib::shape_predictor& predictor, const cv::Mat& image, const Detection& d,
                     const AlignOptions& options, AlignResult& result) {
  dlib::cv_image<dlib::rgb_pixel> source(image);
  dlib::full_object_detection shape = predictor(source, d.landmark_box);
  auto indices = landmark_indices(options.landmarks);
  std::array<cv::Point2f, 3> from;
  for (int i = 0; i < 3; ++i)
    from[i] = cv::Point2f(static_cast<float>(shape.part(indices[i]).x()), static_cast<float>(shape.part(indices[i]).y()));
  result.detector_score = d.score;
  result.box = cv::Rect(static_cast<int>(d.box.left()), static_cast<int>(d.box.top()), static_cast<int>(d.box.width()),
                        static_cast<int>(d.box.height()));
  result.landmarks.assign(from.begin(), from.end());
  // Three (nearly) collinear landmarks define no affine map: treat as no usable face.
  double area = (from[1] - from[0]).cross(from[2] - from[0]);
  if (std::abs(area) < 1.0) {
    result.reason = "degenerate landmarks (collinear)";
    return false;
  }
  if (options.templ == AlignTemplate::dlib_chip) {
    dlib::array2d<dlib::rgb_pixel> chip;
    dlib::extract_image_chip(source, dlib::get_face_chip_details(shape, options.size, options.chip_padding), chip);
    result.face = dlib::toMat(chip).clone();  // rgb_pixel is r, g, b: already RGB
  } else {
    auto to = template_points(options.landmarks, options.size);
    result.face = warp(image, cv::getAffineTransform(from.data(), to.data()), options.size);
  }
  result.status = AlignStatus::aligned;
  return true;
}

}  // namespace face::alignment_steps
