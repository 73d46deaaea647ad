// bench_teacher: dlib's own forward pass against the LibTorch import of the same model, on the
// same face chips, in one process: faces/s of each, and how closely they agree.
//
//   bench_teacher CHIPS_DIR [--count 64] [--batch 32] [--repeats 3] [--threads N] [--nchw]
//
// CHIPS_DIR holds 150x150 dlib face chips (`align --template dlib-chip --size 150`). Prints one
// summary and one JSON line (for experiments/bench). dlib runs on the BLAS it is linked with
// (tools/setup.sh installs OpenBLAS) and its own threads; LibTorch on --threads intra-op threads.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

#include "apps/cli_checks.h"
#include "data/normalisation.h"
#include "model/memory_format.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/run_info.h"
#include "util/threads.h"
#include "vision/dlib_resnet_import.h"
#include "vision/image_io.h"

namespace {

double seconds(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dlib's forward pass vs the LibTorch import of its ResNet face model"};
  std::string dir;
  int count = 64, batch = 32, repeats = 3, threads = 0;
  bool nchw = false;
  app.add_option("chips", dir, "folder of 150x150 dlib face chips")->required();
  app.add_option("--count", count, "chips to use")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--batch", batch, "faces per forward pass")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--repeats", repeats, "timed passes of each (the median is reported)")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--threads", threads, "LibTorch intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_flag("--nchw", nchw, "run LibTorch in NCHW instead of channels-last");
  FACE_PARSE_OPTIONS(app, argc, argv);
  try {
    face::configure_threads(threads);
    std::vector<cv::Mat> chips;
    for (const auto& f : face::list_images(dir, nullptr)) {
      if (static_cast<int>(chips.size()) >= count) break;
      cv::Mat rgb = face::read_rgb(f).rgb;
      if (rgb.cols != face::kDlibChipSize || rgb.rows != face::kDlibChipSize)
        face::fail("'{}' is {}x{}, not a {}x{} dlib chip", f.string(), rgb.cols, rgb.rows, face::kDlibChipSize,
                   face::kDlibChipSize);
      chips.push_back(rgb);
    }
    if (chips.empty()) face::fail("no images under '{}'", dir);
    auto file = face::find_dlib_resnet_file();

    std::vector<double> dlib_times, torch_times;
    torch::Tensor reference, ours;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      reference = face::dlib_reference_embed(file, chips, batch);
      dlib_times.push_back(seconds(t0));
    }
    face::DlibResNet model = face::import_dlib_resnet(file);
    model->eval();
    if (!nchw) face::use_channels_last(*model);
    std::vector<torch::Tensor> rows;
    for (const auto& c : chips) rows.push_back(face::to_chw_tensor(c, face::kDlibChipSize));
    torch::Tensor images = torch::stack(rows);
    for (int r = 0; r < repeats + 1; ++r) {  // the first pass warms oneDNN up and is not counted
      auto t0 = std::chrono::steady_clock::now();
      torch::InferenceMode inference;
      std::vector<torch::Tensor> parts;
      for (int64_t s = 0; s < images.size(0); s += batch)
        parts.push_back(model->forward(face::in_layout(face::to_model_input(images.slice(0, s, s + batch)), !nchw)));
      ours = torch::cat(parts);
      if (r > 0) torch_times.push_back(seconds(t0));
    }
    namespace F = torch::nn::functional;
    auto ref_unit = F::normalize(reference, F::NormalizeFuncOptions().dim(1));
    double max_abs = (ref_unit - ours).abs().max().item<double>();
    double min_cos = (ref_unit * ours).sum(1).min().item<double>();
    double n = static_cast<double>(chips.size());
    double dlib_rate = n / median(dlib_times), torch_rate = n / median(torch_times);
    fmt::print("bench_teacher: {} chips, batch {}, {} LibTorch threads ({})\n", chips.size(), batch,
               at::get_num_threads(), nchw ? "NCHW" : "channels-last");
    fmt::print("  dlib's own forward  {:8.1f} faces/s  ({:.1f} ms/face)\n", dlib_rate, 1000 / dlib_rate);
    fmt::print("  LibTorch import     {:8.1f} faces/s  ({:.1f} ms/face)  {:.2f}x\n", torch_rate, 1000 / torch_rate,
               torch_rate / dlib_rate);
    fmt::print("  agreement: largest |difference| {:.2e}, smallest cosine {:.8f} (unit vectors)\n", max_abs, min_cos);
    nlohmann::json j = {{"bench", "teacher"}, {"chips", chips.size()}, {"batch", batch},
                        {"threads", at::get_num_threads()}, {"layout", nchw ? "nchw" : "channels_last"},
                        {"dlib_faces_per_s", dlib_rate}, {"libtorch_faces_per_s", torch_rate},
                        {"speedup", torch_rate / dlib_rate}, {"max_abs_difference", max_abs},
                        {"min_cosine", min_cos}, {"peak_rss_mb", face::peak_resident_memory_mb()},
                        {"run_info", face::run_info()}};
    fmt::print("{}\n", j.dump());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_teacher: error: {}\n", e.what());
    return 1;
  }
}
