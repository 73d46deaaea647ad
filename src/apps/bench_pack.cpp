// bench_pack: how fast a pack loads, what it costs in memory, and how fast the PxK sampler (and
// gathering its batches from the pack, then normalising and augmenting them) runs. A benchmark, not a test: it prints figures.
//
//   bench_pack PACK [--p 15] [--k 20] [--batches 2000] [--seed 0]
//
// Needs only the core (no OpenCV, no dlib), like training does.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <fstream>

#include "apps/cli_checks.h"
#include "data/augment.h"
#include "data/normalisation.h"
#include "data/pack.h"
#include "data/pxk_sampler.h"
#include "util/error.h"
#include "util/run_info.h"

namespace {

// Resident set size in bytes (Linux /proc), 0 when unknown.
int64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark pack loading and PxK sampling"};
  std::string path;
  face::PxkOptions options;
  options.k = 20;  // OpenFace's batch (15 x 20), as this benchmark has always measured it
  int64_t batches = 2000;
  app.add_option("pack", path, "pack file")->required();
  app.add_option("--p", options.p, "identities per batch")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--k", options.k, "images per identity")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--batches", batches, "batches to draw")->capture_default_str()->check(face::cli::count());
  app.add_option("--seed", options.seed, "sampler seed")->capture_default_str();
  FACE_PARSE_OPTIONS(app, argc, argv);
  try {
    fmt::print("run: {}\n", face::run_info_json());
    int64_t before = resident_bytes();
    auto start = std::chrono::steady_clock::now();
    face::Pack pack = face::load_pack(path);
    double load_s = seconds_since(start);
    int64_t after = resident_bytes();
    int64_t n = pack.size(), h = pack.images.size(2), w = pack.images.size(3);
    double raw = double(n) * 3 * h * w;
    double file = static_cast<double>(std::filesystem::file_size(path));
    fmt::print("pack: {} images of {} identities, {}x{}; file {:.1f} MB; raw N*3*H*W {:.1f} MB\n", n,
               pack.identities.size(), h, w, file / 1e6, raw / 1e6);
    fmt::print("load: {:.3f} s ({:.0f} MB/s); resident memory grew {:.1f} MB = {:.3f} x raw\n", load_s,
               file / 1e6 / load_s, (after - before) / 1e6, (after - before) / raw);

    std::vector<int64_t> labels(pack.labels.data_ptr<int64_t>(), pack.labels.data_ptr<int64_t>() + n);
    face::PxkSampler sampler(labels, options);
    start = std::chrono::steady_clock::now();
    int64_t checksum = 0;
    for (int64_t b = 0; b < batches; ++b) checksum += sampler.next()[0];
    double sample_s = seconds_since(start);
    fmt::print("sampler: P={} K={}: {} batches in {:.3f} s = {:.0f} batches/s ({:.2f} M indices/s), {} epochs "
               "(checksum {})\n",
               options.p, options.k, batches, sample_s, batches / sample_s,
               batches * sampler.batch_size() / sample_s / 1e6, sampler.epoch(), checksum);

    int64_t gather_batches = std::min<int64_t>(batches, 500);
    start = std::chrono::steady_clock::now();
    int64_t bytes = 0;
    for (int64_t b = 0; b < gather_batches; ++b) {
      auto index = torch::tensor(sampler.next(), torch::kInt64);
      bytes += pack.images.index_select(0, index).numel();
    }
    double gather_s = seconds_since(start);
    fmt::print("sample+gather uint8 batches: {} batches in {:.3f} s = {:.0f} batches/s ({:.0f} images/s, {:.0f} MB/s)\n",
               gather_batches, gather_s, gather_batches / gather_s,
               gather_batches * sampler.batch_size() / gather_s, bytes / 1e6 / gather_s);

    // The whole input pipeline of a training step on the CPU: sample, gather, normalise, augment
    // (flip, padded crop, brightness, contrast: data/augment.h defaults).
    int64_t pipeline_batches = std::min<int64_t>(batches, 100);
    start = std::chrono::steady_clock::now();
    double sink = 0;
    for (int64_t b = 0; b < pipeline_batches; ++b) {
      auto index = torch::tensor(sampler.next(), torch::kInt64);
      auto batch = face::augment(face::to_model_input(pack.images.index_select(0, index)), face::AugmentOptions{});
      sink += batch[0][0][0][0].item<float>();
    }
    double pipeline_s = seconds_since(start);
    fmt::print("sample+gather+normalise+augment: {} batches in {:.3f} s = {:.0f} images/s (checksum {:.3f})\n",
               pipeline_batches, pipeline_s, pipeline_batches * sampler.batch_size() / pipeline_s, sink);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_pack: error: {}\n", e.what());
    return 1;
  }
}
