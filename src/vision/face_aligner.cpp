#include "vision/face_aligner.h"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/opencv.h>
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "util/error.h"
#include "vision/face_alignment_steps.h"
#include "vision/mmod_detector.h"

namespace face {

namespace {

// OpenFace's mean-face landmark template (openface/align_dlib.py, TEMPLATE), only the points the
// two landmark sets use, plus the bounds of all 68 points, which its MINMAX normalisation needs:
// x spans landmark 0 .. landmark 16, y spans landmark 24 .. landmark 8.
struct TemplatePoint {
  int index;
  double x, y;
};
constexpr TemplatePoint kTemplate[] = {
    {33, 0.520712933176, 0.634268222208},  // nose tip
    {36, 0.252418718401, 0.331052263829},  // right eye, outer corner (image left)
    {39, 0.403718978315, 0.33867711083},   // right eye, inner corner
    {42, 0.631326076346, 0.334136672344},  // left eye, inner corner
    {45, 0.782865376271, 0.321305281656},  // left eye, outer corner (image right)
    {57, 0.525398405766, 0.841706377792},  // bottom lip
};
constexpr double kTemplateMinX = 0.0792396913815, kTemplateMaxX = 0.971193274221;
constexpr double kTemplateMinY = 0.182360984545, kTemplateMaxY = 1.06080371126;

// The no-face fallback: a square of side kFallbackSide * min(width, height), centred
// horizontally and kFallbackShiftY * min(width, height) below the image centre, resized to the
// output. Measured on LFW deep-funneled (200 images, every 66th): the square that the
// outer-eyes-and-nose warp takes has side 0.364 (sd 0.038) and centre (+0.006, +0.073) (sd 0.024,
// 0.013) relative to the image, so a fallback crop of a centred face resembles an aligned one.
constexpr double kFallbackSide = 0.36, kFallbackShiftY = 0.07;
// The same for dlib's chip at padding 0.25 (its square is wider: the face plus a quarter of it on
// each side); other paddings scale the side by (1 + 2 padding) / 1.5.
constexpr double kChipFallbackSide = 0.50, kChipFallbackShiftY = 0.03;

cv::Mat centre_crop(const cv::Mat& rgb, const AlignOptions& o) {
  const int size = o.size;
  const bool chip = o.templ == AlignTemplate::dlib_chip;
  double side = (chip ? kChipFallbackSide * (1 + 2 * o.chip_padding) / 1.5 : kFallbackSide) * std::min(rgb.cols, rgb.rows);
  double shift = chip ? kChipFallbackShiftY : kFallbackShiftY;
  double cx = rgb.cols / 2.0, cy = rgb.rows / 2.0 + shift * std::min(rgb.cols, rgb.rows);
  double scale = size / side;
  // Maps the crop square onto [0, size)^2 (pixel centres: half-pixel offsets cancel out).
  cv::Mat affine = (cv::Mat_<double>(2, 3) << scale, 0, size / 2.0 - scale * cx, 0, scale, size / 2.0 - scale * cy);
  return alignment_steps::warp(rgb, affine, size);
}

}  // namespace

std::array<int, 3> landmark_indices(LandmarkSet set) {
  return set == LandmarkSet::outer_eyes_and_nose ? std::array<int, 3>{36, 45, 33} : std::array<int, 3>{39, 42, 57};
}

std::array<cv::Point2f, 3> template_points(LandmarkSet set, int size) {
  std::array<cv::Point2f, 3> points;
  auto indices = landmark_indices(set);
  for (int i = 0; i < 3; ++i) {
    for (const auto& t : kTemplate) {
      if (t.index != indices[i]) continue;
      points[i] = cv::Point2f(static_cast<float>(size * (t.x - kTemplateMinX) / (kTemplateMaxX - kTemplateMinX)),
                              static_cast<float>(size * (t.y - kTemplateMinY) / (kTemplateMaxY - kTemplateMinY)));
    }
  }
  return points;
}

std::string to_string(LandmarkSet set) { return set == LandmarkSet::outer_eyes_and_nose ? "outer" : "inner"; }
std::string to_string(FacePick pick) { return pick == FacePick::nearest_centre ? "centre" : "largest"; }
std::string to_string(NoFace no_face) { return no_face == NoFace::skip ? "skip" : "centre-crop"; }
std::string to_string(AlignTemplate templ) { return templ == AlignTemplate::openface ? "openface" : "dlib-chip"; }
std::string to_string(AlignStatus status) {
  switch (status) {
    case AlignStatus::aligned: return "aligned";
    case AlignStatus::fallback: return "fallback";
    default: return "failed";
  }
}

LandmarkSet parse_landmark_set(const std::string& name) {
  if (name == "outer") return LandmarkSet::outer_eyes_and_nose;
  if (name == "inner") return LandmarkSet::inner_eyes_and_bottom_lip;
  fail("unknown landmark set '{}' (expected outer or inner)", name);
}
FacePick parse_face_pick(const std::string& name) {
  if (name == "centre" || name == "center") return FacePick::nearest_centre;
  if (name == "largest") return FacePick::largest;
  fail("unknown face pick '{}' (expected centre or largest)", name);
}
NoFace parse_no_face(const std::string& name) {
  if (name == "skip") return NoFace::skip;
  if (name == "centre-crop" || name == "center-crop") return NoFace::centre_crop;
  fail("unknown no-face policy '{}' (expected skip or centre-crop)", name);
}

std::string to_string(FaceDetector detector) { return detector == FaceDetector::hog ? "hog" : "mmod"; }

FaceDetector parse_face_detector(const std::string& name) {
  if (name == "hog") return FaceDetector::hog;
  if (name == "mmod") return FaceDetector::mmod;
  fail("unknown face detector '{}' (expected hog or mmod)", name);
}

AlignTemplate parse_align_template(const std::string& name) {
  if (name == "openface") return AlignTemplate::openface;
  if (name == "dlib-chip") return AlignTemplate::dlib_chip;
  fail("unknown alignment template '{}' (expected openface or dlib-chip)", name);
}

std::string AlignOptions::recipe() const {
  // "dlib-hog(...)" or "dlib-mmod(...)": the detector, as align_options_from_recipe reads it back.
  auto detection = fmt::format("dlib-{}(upsample={},pick={})+{}", to_string(detector), upsample, to_string(pick),
                               std::filesystem::path(predictor).filename().string());
  if (templ == AlignTemplate::dlib_chip)
    return fmt::format("{}+dlib-chip(padding={})@{}x{},no-face={}", detection, chip_padding, size, size,
                       to_string(no_face));
  auto idx = landmark_indices(landmarks);
  return fmt::format("{}+affine({}:{},{},{}->openface-minmax-template)@{}x{},no-face={}", detection,
                     to_string(landmarks), idx[0], idx[1], idx[2], size, size, to_string(no_face));
}

AlignOptions align_options_from_recipe(const std::string& recipe, int fallback_size) {
  AlignOptions o;
  o.size = fallback_size;
  // "...@WxH,..." carries the size; "dlib-chip(padding=P)" the template; "(inner:" the landmarks.
  auto at = recipe.find('@');
  if (at != std::string::npos) {
    int size = std::atoi(recipe.c_str() + at + 1);
    if (size >= 8 && size <= 4096) o.size = size;
  }
  auto chip = recipe.find("dlib-chip(padding=");
  if (chip != std::string::npos) {
    o.templ = AlignTemplate::dlib_chip;
    o.chip_padding = std::atof(recipe.c_str() + chip + std::strlen("dlib-chip(padding="));
  }
  if (recipe.find("affine(inner:") != std::string::npos) o.landmarks = LandmarkSet::inner_eyes_and_bottom_lip;
  auto upsample = recipe.find("upsample=");
  if (upsample != std::string::npos) o.upsample = std::atoi(recipe.c_str() + upsample + std::strlen("upsample="));
  if (recipe.find("pick=largest") != std::string::npos) o.pick = FacePick::largest;
  if (recipe.find("dlib-mmod(") != std::string::npos) o.detector = FaceDetector::mmod;
  return o;
}

bool recipe_is_reproducible(const std::string& recipe) {
  return recipe.find("dlib-chip(") != std::string::npos || recipe.find("affine(") != std::string::npos;
}

struct FaceAligner::Models {
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  std::unique_ptr<MmodDetector> mmod;  // only with FaceDetector::mmod
  dlib::shape_predictor predictor;

  std::vector<alignment_steps::Detection> detect(const cv::Mat& image, int upsample) {
    return mmod ? alignment_steps::detect_faces(*mmod, image, upsample)
                : alignment_steps::detect_faces(detector, image, upsample);
  }
};

FaceAligner::FaceAligner(const AlignOptions& options) : options_(options), models_(std::make_unique<Models>()) {
  alignment_steps::check_options(options_);
  models_->predictor = alignment_steps::load_predictor(options_.predictor);
  if (options_.detector == FaceDetector::mmod) models_->mmod = std::make_unique<MmodDetector>(find_mmod_file(), options_.detector_precision);
}

FaceAligner::~FaceAligner() = default;
FaceAligner::FaceAligner(FaceAligner&&) noexcept = default;
FaceAligner& FaceAligner::operator=(FaceAligner&&) noexcept = default;

AlignResult FaceAligner::align(const cv::Mat& rgb) {
  AlignResult result;
  result.status = AlignStatus::failed;
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    result.reason = "not an 8-bit 3-channel image";
    return result;
  }
  cv::Mat image = rgb.isContinuous() ? rgb : rgb.clone();
  std::vector<alignment_steps::Detection> detections = models_->detect(image, options_.upsample);
  result.faces_found = static_cast<int>(detections.size());

  const alignment_steps::Detection* chosen = nullptr;
  double best = 0;
  cv::Point2d centre(image.cols / 2.0, image.rows / 2.0);
  for (const auto& d : detections) {
    double value = options_.pick == FacePick::largest ? -d.area : cv::norm(d.centre - centre);
    if (!chosen || value < best) chosen = &d, best = value;
  }
  if (chosen && alignment_steps::align_detection(models_->predictor, image, *chosen, options_, result)) return result;
  if (!chosen) result.reason = "no face detected";
  if (options_.no_face == NoFace::centre_crop) {
    result.face = centre_crop(image, options_);
    result.status = AlignStatus::fallback;
  }
  return result;
}

std::vector<AlignResult> FaceAligner::align_all(const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) fail("align_all: not an 8-bit 3-channel image");
  cv::Mat image = rgb.isContinuous() ? rgb : rgb.clone();
  auto detections = models_->detect(image, options_.upsample);
  std::vector<AlignResult> faces(detections.size());
  for (size_t i = 0; i < detections.size(); ++i) {
    faces[i].status = AlignStatus::failed;
    faces[i].faces_found = static_cast<int>(detections.size());
    alignment_steps::align_detection(models_->predictor, image, detections[i], options_, faces[i]);
  }
  return faces;
}

}  // namespace face
