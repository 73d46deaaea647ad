#include "vision/group_aligner.h"

#include "util/error.h"
#include "vision/face_alignment_steps.h"

namespace face {

struct GroupAligner::Models {
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  dlib::shape_predictor predictor;
};

GroupAligner::GroupAligner(const AlignOptions& options) : options_(options), models_(std::make_unique<Models>()) {
  alignment_steps::check_options(options_);
  models_->predictor = alignment_steps::load_predictor(options_.predictor);
}

GroupAligner::~GroupAligner() = default;
GroupAligner::GroupAligner(GroupAligner&&) noexcept = default;
GroupAligner& GroupAligner::operator=(GroupAligner&&) noexcept = default;

std::vector<AlignResult> GroupAligner::align_all(const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) fail("align_all: not an 8-bit 3-channel image");
  cv::Mat image = rgb.isContinuous() ? rgb : rgb.clone();
  auto detections = alignment_steps::detect_faces(models_->detector, image, options_.upsample);
  std::vector<AlignResult> faces(detections.size());
  for (size_t i = 0; i < detections.size(); ++i) {
    faces[i].status = AlignStatus::failed;
    faces[i].faces_found = static_cast<int>(detections.size());
    alignment_steps::align_detection(models_->predictor, image, detections[i], options_, faces[i]);
  }
  return faces;
}

}  // namespace face
