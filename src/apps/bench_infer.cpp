// bench_infer: inference throughput of an nn4 network on random input, the figure compared with
// the Python reference (../shared/bench/ref_nn4.py, "infer_img_s").
//
//   bench_infer [--arch nn4.small2] [--batch 96] [--steps 5] [--warm 2] [--device cpu|cuda]
//               [--threads N] [--channels-last|--nchw] [--precision auto|fp32|bf16] [--graph G] [--json]
//               [--weights CKPT_OR_EXPORT] [--keep-denormals]
//
// --graph: what runs the network
//   eager    the C++ module as trained (batch norm with its statistics), in the layout asked for
//   folded   the C++ module with batch norm folded into the convolutions: what embedders run
//            for nn4 (model/embedder.h)
//   frozen   the traced TorchScript graph, frozen (batch norm folded; model/inference_graph.h)
//   onednn   the same, then optimize_for_inference (oneDNN pre-packed convolutions, on CPU)
// The other three run channels-last whatever the input's layout (converted in the timed call).
// --precision bf16 (model/precision.h): `folded` holds its weights in bf16, as embedders do;
// the others run under bf16 autocast. --bf16 is short for --precision bf16.
// Prints batch-1 latency and large-batch images/s: total images / total time over --steps timed
// runs (the reference's statistic), and the best and median run.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <optional>

#include "apps/cli_checks.h"
#include "model/embedder.h"
#include "model/inference_graph.h"
#include "model/memory_format.h"
#include "model/nn4.h"
#include "model/precision.h"
#include "model/traced_network.h"
#include "util/denormals.h"
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
  bool channels_last = true, bf16 = false, json = false, keep_denormals = false;
  std::string graph = "folded", precision_name = "fp32", weights;
  app.add_option("--arch", arch)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str()->check(face::cli::batch());
  app.add_option("--steps", steps)->capture_default_str()->check(face::cli::count());
  app.add_option("--warm", warm)->capture_default_str()->check(face::cli::count(0));
  app.add_option("--device", device_name)->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_flag("--channels-last,!--nchw", channels_last, "activation layout (default channels-last)");
  face::cli::add_precision(app, precision_name);
  app.add_flag("--bf16", bf16, "the same as --precision bf16");
  app.add_option("--graph", graph, "eager | folded | frozen | onednn")
      ->capture_default_str()
      ->check(CLI::IsMember({"eager", "folded", "frozen", "onednn"}));
  app.add_flag("--json", json, "one JSON line instead of text");
  app.add_option("--weights", weights, "an nn4 checkpoint or export whose weights to run (its arch); default: random");
  app.add_flag("--keep-denormals", keep_denormals,
               "leave flush-to-zero off (tools turn it on, util/threads.h): to measure what denormal weights cost");
  FACE_PARSE_OPTIONS(app, argc, argv);

  int used_threads = face::configure_threads(threads);
  if (keep_denormals) face::set_flush_denormals(false);
  torch::Device device(device_name);
  const auto precision = bf16 ? face::Precision::bf16 : face::resolve_precision(precision_name, device);
  const bool bf16_weights = precision == face::Precision::bf16 && graph == "folded";
  face::Nn4 model{face::Nn4Options(arch)};
  if (!weights.empty()) {
    model = face::load_nn4(weights, torch::kCPU).model;
    arch = model->options().arch();
  }
  model->eval();
  // The inference graphs run channels-last, as embedders run them; for them --nchw means input
  // handed over in NCHW, converted inside the timed call.
  const bool inference_graph = graph != "eager";
  if (channels_last || inference_graph) face::use_channels_last(*model);
  std::optional<torch::jit::Module> traced;
  if (graph == "frozen" || graph == "onednn")
    traced = face::inference_graph(face::trace_network(face::traceable(model)), device, face::graph_kind(graph));
  model->to(device);
  if (graph == "folded") model->fold_batch_norm();
  if (bf16_weights) model->to(torch::kBFloat16);
  auto make_input = [&](int64_t n) {
    return face::in_layout(torch::rand({n, 3, 96, 96}, torch::TensorOptions().device(device)), channels_last);
  };
  auto forward = [&](const torch::Tensor& x) {
    torch::InferenceMode guard;
    face::AutocastScope autocast(bf16_weights ? face::Precision::fp32 : precision, device);
    auto in = inference_graph ? face::in_layout(x, true) : x;
    if (bf16_weights) in = in.to(torch::kBFloat16);  // the input's cast is part of the call, as in embedders
    auto y = traced ? traced->forward({in}).toTensor() : model->forward(in);
    return y.to(torch::kFloat32);
  };

  auto big = make_input(batch), one = make_input(1);
  auto batch_seconds = time_calls(warm, steps, device, [&] { forward(big); });
  // Batch 1 is short and noisy: 100 timed calls at least (tools/peer_runtimes.py times as many).
  auto single_seconds = time_calls(std::max(warm, 10), std::max(steps, 100), device, [&] { forward(one); });
  double total = 0;
  for (double t : batch_seconds) total += t;
  double mean = batch * batch_seconds.size() / total;
  double best = batch / batch_seconds.front(), median = batch / batch_seconds[batch_seconds.size() / 2];
  double latency_min = single_seconds.front() * 1e3, latency_median = single_seconds[single_seconds.size() / 2] * 1e3;
  if (json) {
    auto rounded = [](double x, double unit) { return std::round(x / unit) * unit; };
    nlohmann::ordered_json report = {
        {"arch", arch}, {"device", device.str()}, {"threads", used_threads}, {"batch", batch},
        {"channels_last", channels_last}, {"precision", face::precision_name(precision)},
        {"bf16_support", face::bf16_support(device)}, {"graph", graph},
        {"weights", weights.empty() ? "random" : weights}, {"flush_denormals", !keep_denormals},
        {"infer_img_s", rounded(mean, 0.1)}, {"infer_img_s_max", rounded(best, 0.1)},
        {"infer_img_s_median", rounded(median, 0.1)}, {"batch1_ms_min", rounded(latency_min, 0.01)},
        {"batch1_ms_median", rounded(latency_median, 0.01)}, {"run", face::run_info()}};
    fmt::print("{}\n", report.dump());
  } else {
    fmt::print("{} ({} graph, {}) on {} ({} threads), batch {}: {:.1f} images/s (best {:.1f}, median {:.1f}); batch 1: "
               "{:.2f} ms (median {:.2f})\n",
               arch, graph, face::precision_name(precision), device.str(), used_threads, batch, mean, best, median,
               latency_min, latency_median);
  }
  return 0;
}
