#include "vision/face_loader.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <mutex>

#include "util/error.h"
#include "vision/image_io.h"

namespace face {

int64_t LoadedFaces::failed() const {
  return std::count_if(errors.begin(), errors.end(), [](const std::string& e) { return !e.empty(); });
}

namespace {

cv::Mat central_square(const cv::Mat& rgb, double fraction) {
  int side = std::max(1, static_cast<int>(std::lround(fraction * std::min(rgb.cols, rgb.rows))));
  return rgb(cv::Rect((rgb.cols - side) / 2, (rgb.rows - side) / 2, side, side));
}

}  // namespace

LoadedFaces load_faces(const std::vector<std::filesystem::path>& files, const FaceLoadOptions& options,
                       Progress* progress) {
  if (options.size < 1) fail("face size {} must be positive", options.size);
  if (options.centre_crop < 0 || options.centre_crop > 1)
    fail("centre crop {} must be in (0, 1] (or 0 for none)", options.centre_crop);
  if (options.align && options.centre_crop > 0) fail("alignment and a centre crop exclude each other");
  int64_t n = static_cast<int64_t>(files.size());
  LoadedFaces out;
  out.images = torch::zeros({n, 3, options.size, options.size}, torch::kUInt8);
  out.errors.assign(files.size(), "");
  std::atomic<int64_t> resized{0}, fallback{0};
  std::mutex progress_mutex;
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    // parallel_for hands each thread one contiguous chunk, so this is one aligner per thread.
    std::optional<FaceAligner> aligner;
    if (options.align) aligner.emplace(*options.align);
    for (int64_t i = begin; i < end; ++i) {
      try {
        cv::Mat rgb = read_rgb(files[i]).rgb;
        bool from_tree = true;  // faces aligned here come at the recipe's size, and are not "resized" inputs
        if (aligner) {
          AlignResult aligned = aligner->align(rgb);
          if (aligned.status == AlignStatus::failed)
            fail("image '{}': alignment failed: {}", files[i].string(), aligned.reason);
          if (aligned.status == AlignStatus::fallback) ++fallback;
          rgb = aligned.face;
          from_tree = false;
        } else if (options.centre_crop > 0) {
          rgb = central_square(rgb, options.centre_crop);
        }
        bool expected = (rgb.cols == options.size && rgb.rows == options.size) ||
                        (rgb.cols == options.recipe_size && rgb.rows == options.recipe_size);
        if (from_tree && !expected) ++resized;
        out.images[i].copy_(to_chw_tensor(rgb, options.size));
      } catch (const std::exception& e) {
        out.errors[i] = e.what();
      }
      if (progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        progress->advance(1);
      }
    }
  });
  out.resized = resized;
  out.align_fallback = fallback;
  return out;
}

}  // namespace face
