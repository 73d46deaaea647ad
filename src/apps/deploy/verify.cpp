// verify: are two face images the same person? (1:1 verification)
//
//   verify A B [--model MODEL] [--threshold T] [--json] [--aligned] [--detector hog|mmod] [--upsample N]
//              [--device cpu|cuda] [--threads N] [--repeat N]
//
// Without --model, the released model (vision/model_catalog.h). Aligns both images by the
// model's recipe (the largest face of each, with a warning when there are several), embeds
// them and compares the squared L2 distance with the threshold: --threshold, else the one the
// exported model records (export --threshold/--report).
// Exit status: 0 same person, 1 different people, 2 error (unreadable file, no face, bad model).
// --repeat N re-runs the whole pair N more times in the same process and reports the warm
// latency (for benchmarks; tools/bench_deploy.sh).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

#include "apps/cli_checks.h"
#include "vision/deployed_model.h"
#include "util/error.h"
#include "util/threads.h"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  auto start = Clock::now();
  CLI::App app{"Verify whether two face images show the same person"};
  std::string a, b, model, device_name = "cpu", precision = "fp32", detector;
  double threshold = 0;
  bool json = false, aligned = false;
  int threads = 0, repeat = 0, upsample = 1;
  app.add_option("A", a, "first image")->required();
  app.add_option("B", b, "second image")->required();
  app.add_option("--model", model, "exported model, checkpoint or 'dlib-resnet' (default: the released model)");
  auto* t = app.add_option("--threshold", threshold, "squared L2 distance below which faces match")->check(face::cli::finite(0, 4));
  app.add_flag("--json", json, "print one JSON object");
  app.add_flag("--aligned", aligned, "inputs are already aligned 96x96 faces (skip detection)");
  face::cli::add_detector(app, detector);
  face::cli::add_upsample(app, upsample);
  app.add_option("--device", device_name, "cpu or cuda[:N]")->capture_default_str();
  face::cli::add_precision(app, precision);
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_option("--repeat", repeat, "time N further runs of the pair in this process")->check(CLI::Range(0, 100000));
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    face::configure_threads(threads);
    face::DeployedModelOptions options;
    options.model = model, options.device = device_name, options.precision = precision, options.aligned = aligned;
    options.detector = detector, options.upsample = upsample;
    if (t->count()) options.threshold = threshold;
    face::DeployedModel deployed(options);
    threshold = deployed.threshold();  // a model without one is refused before any image is read
    std::vector<std::string> warnings = deployed.warnings();

    face::PairVerdict verdict = face::verify_pair(deployed, a, b);
    double cold_ms = ms_since(start);
    warnings.insert(warnings.end(), verdict.notes.begin(), verdict.notes.end());
    std::vector<double> warm;
    for (int i = 0; i < repeat; ++i) {
      auto t0 = Clock::now();
      face::verify_pair(deployed, a, b);
      warm.push_back(ms_since(t0));
    }
    std::sort(warm.begin(), warm.end());
    const bool same = verdict.same;

    if (json) {
      nlohmann::json out = {{"a", a}, {"b", b}, {"distance", verdict.distance}, {"distance_kind", "squared_l2"},
                            {"threshold", threshold}, {"same", same}, {"model", deployed.embedder().description()},
                            {"model_fingerprint", deployed.embedder().fingerprint()}, {"warnings", warnings},
                            {"in_process_ms", cold_ms}};
      if (!warm.empty()) out["warm_median_ms"] = warm[warm.size() / 2];
      fmt::print("{}\n", out.dump());
    } else {
      for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
      fmt::print("distance {:.4f} (squared L2), threshold {:.4f}: {}\n", verdict.distance, threshold,
                 same ? "SAME person" : "DIFFERENT people");
      if (!warm.empty())
        fmt::print("timing: first pair {:.1f} ms after start (model load included), warm median {:.1f} ms over {}\n",
                   cold_ms, warm[warm.size() / 2], warm.size());
    }
    return same ? 0 : 1;
  } catch (const std::exception& e) {
    if (json) fmt::print("{}\n", nlohmann::json{{"error", e.what()}}.dump());
    fmt::print(stderr, "verify: error: {}\n", e.what());
    return 2;
  }
}
