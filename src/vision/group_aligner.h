// group_aligner.h: every face of a photo, each aligned (a group photo's people, for the cluster
// tool), where FaceAligner (face_aligner.h) picks one.
//
// Detection, landmarks and crops are FaceAligner's own steps (face_alignment_steps.h) with the
// same AlignOptions: each face comes out exactly as FaceAligner::align would give it had it
// picked that face. `pick` and `no_face` do not apply: a photo without a face gives none.
// Like FaceAligner it holds a detector and the ~100 MB landmark model: one per thread.
#pragma once
#include <opencv2/core.hpp>

#include <memory>
#include <vector>

#include "vision/face_aligner.h"

namespace face {

class GroupAligner {
 public:
  // face::Error naming the option or the landmark model file, as FaceAligner's constructor.
  explicit GroupAligner(const AlignOptions& options);
  ~GroupAligner();
  GroupAligner(GroupAligner&&) noexcept;
  GroupAligner& operator=(GroupAligner&&) noexcept;

  // requires: rgb is CV_8UC3 RGB (face::Error otherwise).
  // ensures: one result per detection, in the detector's order, each aligned or failed with its
  // reason (degenerate landmarks); faces_found = the number of detections; empty without a face.
  std::vector<AlignResult> align_all(const cv::Mat& rgb);

  const AlignOptions& options() const { return options_; }

 private:
  struct Models;
  AlignOptions options_;
  std::unique_ptr<Models> models_;
};

}  // namespace face
