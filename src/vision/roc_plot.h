// roc_plot.h: the ROC curve of a verification run drawn as an image (OpenCV, no plotting library).
//
// x: false-accept rate (linear 0..1, or log10 from `min_far` to 1, where FAR = 0 points sit on the
// left edge); y: true-accept rate (VAL), 0..1. Grid, ticks and axis labels are drawn; the chance
// line (TAR = FAR) is dashed. Marked operating points: the best-accuracy threshold over all pairs
// (red circle), each VAL@FAR target as measured (mean FAR, mean VAL over folds; blue squares),
// and the equal error rate (green diamond), with a legend giving their values.
#pragma once
#include <opencv2/core.hpp>

#include <filesystem>
#include <string>

#include "eval/verification_metrics.h"

namespace face {

struct RocPlotOptions {
  int width = 900, height = 720;
  bool log_far = true;
  double min_far = 0;      // left end of the log axis; 0 = the decade at or below 1 / (different pairs)
  int64_t different_pairs = 0;  // for the automatic min_far; 0 = 1e-4
  std::string title = "ROC";
};

// The plot as an 8-bit BGR image.
cv::Mat draw_roc(const VerificationMetrics& metrics, const RocPlotOptions& options = {});

// Draws and writes a PNG atomically; face::Error naming the path on failure.
void write_roc_png(const std::filesystem::path& path, const VerificationMetrics& metrics,
                   const RocPlotOptions& options = {});

}  // namespace face
