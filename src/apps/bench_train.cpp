// bench_train: training throughput (images/s) of the real trainer step on random data.
//
//   bench_train [--arch nn4.small2] [--batch 96] [--k 6] [--steps 5] [--warm 2] [--threads 2]
//               [--device cpu|cuda] [--mining semihard] [--channels-last|--nchw]
//               [--precision auto|fp32|bf16] [--bf16] [--flush-denormals]
//
// The timed step is the whole trainer step: sampling, gather, augmentation, forward, mining,
// triplet loss, backward, update and telemetry. Prints one JSON line: images/s over all timed
// steps, of the fastest and of the median step, peak resident memory and device memory in use.
// tools/bench.sh runs it beside the Python reference (../shared/bench/ref_nn4.py) with the ratio.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <numeric>
#include <vector>

#include "apps/cli_checks.h"
#include "model/precision.h"
#include "train/hooks.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/memory.h"

namespace {

// Times every step after the warm-up ones (waiting for the GPU, so each time is the step's own).
struct TimingHook : face::Hook {
  int64_t warm;
  std::chrono::steady_clock::time_point last;
  std::vector<double> step_seconds;
  double device_memory_mb = -1;
  explicit TimingHook(int64_t w) : warm(w) {}
  void before_train(face::Trainer& t) override { last = std::chrono::steady_clock::now(); }
  void after_step(face::Trainer& t) override {
    if (t.device().is_cuda()) torch::cuda::synchronize();
    auto now = std::chrono::steady_clock::now();
    if (t.state().step > warm) step_seconds.push_back(std::chrono::duration<double>(now - last).count());
    last = now;
    device_memory_mb = std::max(device_memory_mb, face::device_memory_in_use_mb());
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark the trainer step"};
  std::string arch = "nn4.small2", device = "cpu", mining = "semihard";
  int64_t batch = 96, k = 6, steps = 5, warm = 2, threads = 2;
  bool channels_last = true, bf16 = false, flush_denormals = false;
  std::string precision = "fp32";
  app.add_option("--arch", arch)->capture_default_str();
  app.add_option("--batch", batch, "images per step (P x K)")->capture_default_str()->check(face::cli::batch());
  app.add_option("--k", k, "images per identity")->capture_default_str()->check(CLI::Range(2, 1000));
  app.add_option("--steps", steps, "timed steps")->capture_default_str()->check(face::cli::count());
  app.add_option("--warm", warm, "untimed steps first")->capture_default_str()->check(face::cli::count(0));
  app.add_option("--threads", threads)->capture_default_str()->check(face::cli::threads());
  app.add_option("--device", device)->capture_default_str();
  app.add_option("--mining", mining)->capture_default_str();
  app.add_flag("--channels-last,!--nchw", channels_last, "activation layout (default channels-last)");
  face::cli::add_precision(app, precision);  // runtime.precision
  app.add_flag("--bf16", bf16, "the same as --precision bf16");
  app.add_flag("--flush-denormals", flush_denormals, "runtime.flush_denormals: FTZ/DAZ in every thread");
  FACE_PARSE_OPTIONS(app, argc, argv);
  try {
    if (batch % k) face::fail("--batch {} is not a multiple of --k {}", batch, k);
    if (bf16) precision = "bf16";
    const int64_t p = batch / k, identities = 2 * p, per_identity = k + 2;
    face::Pack pack;
    pack.images = torch::randint(0, 256, {identities * per_identity, 3, 96, 96}, torch::kUInt8);
    pack.labels = torch::arange(identities * per_identity, torch::kLong).div(per_identity, "floor");
    for (int64_t i = 0; i < identities; ++i) pack.identities.push_back(fmt::format("id{}", i));
    pack.paths.resize(identities * per_identity);

    auto dir = std::filesystem::temp_directory_path() / fmt::format("bench-train-{}", ::getpid());
    auto config = face::load_config(
        "", {"data.pack=random", "run.dir=" + dir.string(), "run.name=bench", fmt::format("data.p={}", p),
             fmt::format("data.k={}", k), "data.validation_fraction=0", fmt::format("length.steps={}", warm + steps),
             "mining.strategy=" + mining, "runtime.device=" + device, fmt::format("runtime.threads={}", threads),
             fmt::format("runtime.channels_last={}", channels_last), "runtime.precision=" + precision,
             fmt::format("runtime.flush_denormals={}", flush_denormals),
             "checkpoint.every_steps=0", "evaluation.every_steps=0", "logging.every_steps=1000000",
             "logging.progress=false", fmt::format("model.arch={}", arch)});
    face::Trainer trainer(config, std::move(pack));
    auto timing = std::make_unique<TimingHook>(warm);
    auto* t = timing.get();
    trainer.add_hook(std::move(timing));
    trainer.train();
    auto times = t->step_seconds;
    if (times.empty()) face::fail("no timed steps (--steps {})", steps);
    double total = std::accumulate(times.begin(), times.end(), 0.0);
    std::sort(times.begin(), times.end());
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    auto tenths = [](double x) { return std::round(x * 10) / 10; };
    nlohmann::ordered_json report = {
        {"program", "bench_train"}, {"arch", arch}, {"device", device}, {"batch", batch}, {"threads", threads},
        {"mining", mining}, {"channels_last", channels_last},
        {"precision", face::precision_name(face::resolve_precision(precision, torch::Device(device)))},
        {"flush_denormals", flush_denormals}, {"steps", steps},
        {"train_img_s", tenths(batch * times.size() / total)}, {"train_img_s_max", tenths(batch / times.front())},
        {"train_img_s_median", tenths(batch / times[times.size() / 2])},
        {"peak_resident_mb", std::round(face::peak_resident_memory_mb())}, {"device_memory_mb", std::round(t->device_memory_mb)}};
    fmt::print("{}\n", report.dump());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
