// face_alignment_steps.h: the steps a FaceAligner (face_aligner.h) is made of, shared by align
// (one face) and align_all (every face). Internal to the vision part: dlib's types appear here
// and in no public header.
#pragma once
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "vision/face_aligner.h"
#include "vision/mmod_detector.h"

namespace face::alignment_steps {

// face::Error naming the option when size, upsampling or padding is out of range.
void check_options(const AlignOptions& options);

// The 68-point landmark model; face::Error naming the file when it is missing, unreadable or
// not a 68-point model.
dlib::shape_predictor load_predictor(const std::string& path);

// A detector box in source pixels, with its centre and area before rounding (what the picks
// compare), and the box the landmark model starts from (HOG's box itself; for MMOD, its box
// mapped onto where HOG's would be).
struct Detection {
  dlib::rectangle box;
  cv::Point2d centre;
  double area;
  double score;
  dlib::rectangle landmark_box;
};

// Every face the HOG detector finds in `image` (CV_8UC3, continuous), run on a copy upsampled
// `upsample` times, or scaled down when that would pass 4096^2 pixels.
std::vector<Detection> detect_faces(dlib::frontal_face_detector& detector, const cv::Mat& image, int upsample);

// The same with dlib's CNN detector (MmodDetector::detect with `upsample`).
std::vector<Detection> detect_faces(MmodDetector& detector, const cv::Mat& image, int upsample);

// Where HOG's box would be for a face MMOD boxed as `mmod` (the fit in face_alignment_steps.cpp).
dlib::rectangle hog_like_box(const cv::Rect& mmod);

// The landmarks and crop of one detected face into `result` (status aligned, box, landmarks,
// score); false, with `result.reason`, when its landmarks are degenerate (collinear).
bool align_detection(dlib::shape_predictor& predictor, const cv::Mat& image, const Detection& detection,
                     const AlignOptions& options, AlignResult& result);

// `rgb` through the affine map onto a size x size crop (bilinear, black outside the source).
cv::Mat warp(const cv::Mat& rgb, const cv::Mat& affine, int size);

}  // namespace face::alignment_steps
