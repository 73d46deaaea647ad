// bench_detect: dlib's HOG face detector beside the MMOD CNN detector (vision/mmod_detector.h) on
// a folder of photos: how many faces each finds, the photos where HOG finds none and MMOD does,
// and the per-photo detection time of each.
//
//   bench_detect IMAGES_DIR [--every 1] [--limit 0] [--hog-upsample 1] [--mmod-upsample 0]
//                [--precision fp32|bf16|auto] [--threads N] [--misses FILE] [--boxes FILE]
//
// HOG runs as align runs it (dlib::pyramid_up `--hog-upsample` times, then the frontal face
// detector; dlib's detector is single-threaded); MMOD on LibTorch's --threads intra-op threads.
// Times are per photo (decoding excluded), wall clock, medians and means over all photos. The
// photos where HOG finds no face are listed in --misses (relative path, HOG faces, MMOD faces,
// MMOD's best score), one per line; --boxes lists, for the photos where each detector finds exactly
// one face, both boxes (path, then left top width height of HOG's and of MMOD's): the data that
// vision/face_aligner.cpp's MMOD-to-HOG box map was fitted to. Prints a summary and one JSON line.
#include <CLI/CLI.hpp>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/opencv.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "apps/cli_checks.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/run_info.h"
#include "util/threads.h"
#include "vision/image_io.h"
#include "vision/mmod_detector.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dlib's HOG face detector beside the MMOD CNN detector: faces found and time per photo"};
  std::string dir, misses_file, boxes_file;
  int every = 1, limit = 0, hog_upsample = 1, mmod_upsample = 0, threads = 0;
  std::string precision = "fp32";
  app.add_option("images", dir, "folder of photos (any depth)")->required();
  app.add_option("--every", every, "use every Nth photo (sorted by path)")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--limit", limit, "at most this many photos (0 = all)")->capture_default_str()->check(CLI::Range(0, 10000000));
  app.add_option("--hog-upsample", hog_upsample, "HOG: times the photo is doubled first (align's --upsample)")
      ->capture_default_str()->check(CLI::Range(0, 4));
  app.add_option("--mmod-upsample", mmod_upsample, "MMOD: times the photo is doubled first")->capture_default_str()->check(CLI::Range(0, 4));
  face::cli::add_precision(app, precision)->description("MMOD's network: auto | fp32 | bf16");
  app.add_option("--threads", threads, "LibTorch intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_option("--misses", misses_file, "write the photos where HOG finds no face here");
  app.add_option("--boxes", boxes_file, "write both boxes of the photos where each finds one face here");
  FACE_PARSE_OPTIONS(app, argc, argv);
  try {
    face::configure_threads(threads);
    std::vector<std::filesystem::path> photos;
    auto all = face::list_images(dir, nullptr);
    for (size_t i = 0; i < all.size(); i += every) {
      if (limit > 0 && static_cast<int>(photos.size()) >= limit) break;
      photos.push_back(all[i]);
    }
    if (photos.empty()) face::fail("no images under '{}'", dir);
    dlib::frontal_face_detector hog = dlib::get_frontal_face_detector();
    face::MmodDetector mmod(face::find_mmod_file(), face::resolve_precision(precision, torch::Device(torch::kCPU)));
    mmod.detect(face::read_rgb(photos[0]).rgb, mmod_upsample);  // warms oneDNN up; not counted

    std::vector<double> hog_times, mmod_times;
    long hog_faces = 0, mmod_faces = 0, hog_missed = 0, hog_missed_mmod_found = 0, both_missed = 0, unreadable = 0;
    long mmod_missed = 0, mmod_missed_hog_found = 0;  // the other way round: where MMOD finds none
    std::string misses, boxes;
    for (const auto& path : photos) {
      cv::Mat rgb;
      try {
        rgb = face::read_rgb(path).rgb;
      } catch (const face::Error& e) {
        ++unreadable;
        fmt::print(stderr, "bench_detect: skipped: {}\n", e.what());
        continue;
      }
      auto t0 = std::chrono::steady_clock::now();
      dlib::array2d<dlib::rgb_pixel> scan;
      dlib::assign_image(scan, dlib::cv_image<dlib::rgb_pixel>(rgb));
      for (int i = 0; i < hog_upsample; ++i) dlib::pyramid_up(scan);
      std::vector<dlib::rectangle> hog_boxes = hog(scan);
      size_t hog_found = hog_boxes.size();
      hog_times.push_back(seconds_since(t0));
      t0 = std::chrono::steady_clock::now();
      auto found = mmod.detect(rgb, mmod_upsample);
      mmod_times.push_back(seconds_since(t0));
      hog_faces += static_cast<long>(hog_found);
      mmod_faces += static_cast<long>(found.size());
      if (hog_found == 1 && found.size() == 1) {
        double to_source = std::pow(0.5, hog_upsample);  // HOG's box is in the doubled photo
        const auto& h = hog_boxes[0];
        const auto& m = found[0].box;
        boxes += fmt::format("{}\t{:.1f}\t{:.1f}\t{:.1f}\t{:.1f}\t{}\t{}\t{}\t{}\n",
                             std::filesystem::relative(path, dir).string(), h.left() * to_source,
                             h.top() * to_source, h.width() * to_source, h.height() * to_source, m.x, m.y, m.width,
                             m.height);
      }
      if (found.empty()) {
        ++mmod_missed;
        if (hog_found > 0) ++mmod_missed_hog_found;
      }
      if (hog_found == 0) {
        ++hog_missed;
        found.empty() ? ++both_missed : ++hog_missed_mmod_found;
        misses += fmt::format("{}\t{}\t{}\t{:.3f}\n", std::filesystem::relative(path, dir).string(), hog_found,
                              found.size(), found.empty() ? 0.0 : found.front().score);
      }
    }
    if (!misses_file.empty()) face::write_file_atomic(misses_file, misses);
    if (!boxes_file.empty()) face::write_file_atomic(boxes_file, boxes);
    size_t n = hog_times.size();
    fmt::print("bench_detect: {} photos of '{}' ({} unreadable), LibTorch threads {}\n", n, dir, unreadable,
               at::get_num_threads());
    fmt::print("  HOG  (upsample {})  {:6} faces, no face in {:5} photos, {:7.1f} ms/photo median, {:7.1f} mean\n",
               hog_upsample, hog_faces, hog_missed, 1000 * median(hog_times), 1000 * mean(hog_times));
    fmt::print("  MMOD (upsample {}, {})  {:6} faces, no face in {:5} photos ({} where HOG finds one), {:5} of HOG's "
               "misses found ({} missed by both), {:7.1f} ms/photo median, {:7.1f} mean\n",
               mmod_upsample, face::precision_name(mmod.precision()), mmod_faces, mmod_missed, mmod_missed_hog_found,
               hog_missed_mmod_found, both_missed, 1000 * median(mmod_times), 1000 * mean(mmod_times));
    nlohmann::json j = {{"bench", "detect"},
                        {"photos", n},
                        {"threads", at::get_num_threads()},
                        {"hog_upsample", hog_upsample},
                        {"mmod_upsample", mmod_upsample},
                        {"mmod_precision", face::precision_name(mmod.precision())},
                        {"hog_faces", hog_faces},
                        {"mmod_faces", mmod_faces},
                        {"hog_no_face", hog_missed},
                        {"hog_no_face_mmod_found", hog_missed_mmod_found},
                        {"both_no_face", both_missed},
                        {"mmod_no_face", mmod_missed},
                        {"mmod_no_face_hog_found", mmod_missed_hog_found},
                        {"hog_ms_median", 1000 * median(hog_times)},
                        {"hog_ms_mean", 1000 * mean(hog_times)},
                        {"mmod_ms_median", 1000 * median(mmod_times)},
                        {"mmod_ms_mean", 1000 * mean(mmod_times)},
                        {"run_info", face::run_info()}};
    fmt::print("{}\n", j.dump());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_detect: error: {}\n", e.what());
    return 1;
  }
}
