#include "deploy/cluster/cluster_threshold.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace face {

double threshold_at_far(FarThresholds table, double far, bool* clamped) {
  if (table.empty()) fail("threshold_at_far: the model records no strict thresholds");
  if (!(far > 0 && far < 1)) fail("threshold_at_far: FAR {} is not in (0, 1)", far);
  std::sort(table.begin(), table.end());
  if (clamped) *clamped = far < table.front().first || far > table.back().first;
  if (far <= table.front().first) return table.front().second;
  if (far >= table.back().first) return table.back().second;
  auto hi = std::upper_bound(table.begin(), table.end(), std::make_pair(far, 0.0),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
  auto lo = hi - 1;
  const double w = (std::log(far) - std::log(lo->first)) / (std::log(hi->first) - std::log(lo->first));
  return lo->second + w * (hi->second - lo->second);
}

ClusterThreshold default_cluster_threshold(const FarThresholds& table, int64_t faces, std::optional<double> far) {
  if (faces < 1) fail("default_cluster_threshold: {} faces", faces);
  ClusterThreshold out;
  out.far = far ? *far : std::min(0.5, kFalseNeighboursPerFace / static_cast<double>(faces));
  out.threshold = threshold_at_far(table, out.far, &out.clamped);
  return out;
}

}  // namespace face
