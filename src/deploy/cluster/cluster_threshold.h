// cluster_threshold.h: the distance below which `cluster` joins two faces, when none is given.
//
// A model's verification threshold is the wrong one: it is chosen on balanced pairs, half of
// them the same person, but in a collection of N faces each face meets N - 1 others, nearly all
// strangers, so a false accept rate f gives each face about f * N false neighbours, and Chinese
// whispers merges people along them. The default therefore holds the expected false neighbours
// per face to kFalseNeighboursPerFace: FAR = 0.1 / N, read off the model's table of strict
// thresholds (export's "far_thresholds": FAR 1e-3, 1e-4, 1e-5 over every pair of different
// people of its selection list, eval/impostor_thresholds.h). So the default tightens as the
// collection grows. Measured with dlib's ResNet (experiments/cluster/README.md): best near FAR
// 1e-4 on 2,014 CelebA faces and near 1e-5 on LFW's 13,233.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace face {

constexpr double kFalseNeighboursPerFace = 0.1;

// (far_target, threshold) rows, as export records them.
using FarThresholds = std::vector<std::pair<double, double>>;

// The distance at `far`: log-linear interpolation in the FAR between the two nearest rows; the
// nearest end's threshold outside the table's range (*clamped is then true).
// Requires: a non-empty table, far in (0, 1); face::Error otherwise.
double threshold_at_far(FarThresholds table, double far, bool* clamped = nullptr);

struct ClusterThreshold {
  double threshold = 0;
  double far = 0;          // the FAR it was read at
  bool clamped = false;    // beyond the model's table: its nearest row's threshold
};

// The default for a collection of `faces` faces: FAR = kFalseNeighboursPerFace / faces, or `far`
// when given. Requires: faces >= 1.
ClusterThreshold default_cluster_threshold(const FarThresholds& table, int64_t faces,
                                           std::optional<double> far = std::nullopt);

}  // namespace face
