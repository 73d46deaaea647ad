// bench_infer: inference throughput of an nn4 network on random input, the figure compared with
// the Python reference (../shared/bench/ref_nn4.py, "infer_img_s").
//
//   bench_infer [--arch nn4.small2] [--batch 96] [--steps 5] [--warm 2] [--device cpu|cuda]
//               [--threads N] [--channels-last|--nchw] [--bf16] [--json]
//
// Prints batch-1 latency and large-batch images/s (minimum and median over --steps timed runs).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <chrono>

#include "apps/cli_checks.h"
#include "model/memory_format.h"
#include "model/nn4.h"
#include "util/run_info.h"
#include "util/threads.h"

namespace {

// Seconds of each of `steps` calls of `fn`, after `warm` untimed calls.
template <class Fn>
std::vector<double> time_calls(int warm, int steps, const torch::Device& device, Fn fn) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < warm; ++i) fn();
  sync();
  std::vector<double> seconds;
  for (int i = 0; i < steps; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    sync();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nn4 inference throughput"};
  std::string arch = "nn4.small2", device_name = "cpu";
  int64_t batch = 96;
  int steps = 5, warm = 2, threads = 0;
  bool channels_last = true, bf16 = false, json = false;
  app.add_option("--arch", arch)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str()->check(face::cli::batch());
  app.add_option("--steps", steps)->capture_default_str()->check(face::cli::count());
  app.add_option("--warm", warm)->capture_default_str()->check(face::cli::count(0));
  app.add_option("--device", device_name)->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_flag("--channels-last,!--nchw", channels_last, "activation layout (default channels-last)");
  app.add_flag("--bf16", bf16, "bf16 autocast (CUDA)");
  app.add_flag("--json", json, "one JSON line instead of text");
  FACE_PARSE_OPTIONS(app, argc, argv);

  int used_threads = face::configure_threads(threads);
  torch::Device device(device_name);
  face::Nn4 model{face::Nn4Options(arch)};
  model->to(device);
  model->eval();
  if (channels_last) face::use_channels_last(*model);
  auto make_input = [&](int64_t n) {
    return face::in_layout(torch::rand({n, 3, 96, 96}, torch::TensorOptions().device(device)), channels_last);
  };
  auto forward = [&](const torch::Tensor& x) {
    torch::InferenceMode guard;
    if (bf16 && device.is_cuda()) {
      at::autocast::set_autocast_enabled(at::kCUDA, true);
      at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    }
    auto y = model->forward(x);
    if (bf16 && device.is_cuda()) {
      at::autocast::set_autocast_enabled(at::kCUDA, false);
      at::autocast::clear_cache();
    }
    return y;
  };

  auto big = make_input(batch), one = make_input(1);
  auto batch_seconds = time_calls(warm, steps, device, [&] { forward(big); });
  auto single_seconds = time_calls(warm, std::max(steps, 10), device, [&] { forward(one); });
  double best = batch / batch_seconds.front(), median = batch / batch_seconds[batch_seconds.size() / 2];
  double latency_min = single_seconds.front() * 1e3, latency_median = single_seconds[single_seconds.size() / 2] * 1e3;
  if (json) {
    auto rounded = [](double x, double unit) { return std::round(x / unit) * unit; };
    nlohmann::ordered_json report = {
        {"arch", arch}, {"device", device.str()}, {"threads", used_threads}, {"batch", batch},
        {"channels_last", channels_last}, {"bf16", bf16}, {"infer_img_s_max", rounded(best, 0.1)},
        {"infer_img_s_median", rounded(median, 0.1)}, {"batch1_ms_min", rounded(latency_min, 0.01)},
        {"batch1_ms_median", rounded(latency_median, 0.01)}, {"run", face::run_info()}};
    fmt::print("{}\n", report.dump());
  } else {
    fmt::print("{} on {} ({} threads), batch {}: {:.1f} images/s (median {:.1f}); batch 1: {:.2f} ms (median {:.2f})\n",
               arch, device.str(), used_threads, batch, best, median, latency_min, latency_median);
  }
  return 0;
}
