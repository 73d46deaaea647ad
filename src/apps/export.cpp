// export: checkpoint -> self-describing TorchScript module (see deploy/export.h).
//
//   export --checkpoint CKPT --out model.pt (--threshold T | --report eval.json)
//          [--align-recipe TEXT] [--training-run ID]
//   export --untrained nn4.small2 [--seed S] --out model.pt --threshold T
//
// --untrained exports randomly initialised weights, for testing and timing deployment pipelines
// before a model is trained; the export records training_run "untrained (seed S)".
//
// The verification threshold comes from `evaluate` (its JSON report's "best_threshold") or is
// given directly; verify and identify use it unless told otherwise.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "deploy/export.h"
#include "model/model_file.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/threads.h"

namespace {

double threshold_from_report(const std::string& report) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(face::read_file(report));
  } catch (const nlohmann::json::exception& e) {
    face::fail("--report '{}' is not valid JSON: {}", report, e.what());
  }
  // evaluate writes {"metrics": {"distance": "l2", "best_threshold": t, ...}, ...}; a bare
  // {"best_threshold": t} is accepted too.
  const nlohmann::json* metrics = &json;
  if (json.is_object() && json.contains("metrics") && json["metrics"].is_object()) metrics = &json["metrics"];
  if (!metrics->is_object() || !metrics->contains("best_threshold") || !(*metrics)["best_threshold"].is_number())
    face::fail("--report '{}' has no numeric \"best_threshold\" (is it evaluate's report?)", report);
  if (metrics->contains("distance") && (*metrics)["distance"] != "l2" && (*metrics)["distance"] != "squared_l2")
    face::fail("--report '{}': its threshold is on the {} distance; verify and identify use the squared L2 distance "
               "(run evaluate with --distance l2)", report, (*metrics)["distance"].dump());
  return (*metrics)["best_threshold"].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Export a facenet-cpp checkpoint as a TorchScript module with its metadata"};
  std::string checkpoint, out, report, recipe, training_run;
  double threshold = 0;
  int threads = 0;
  std::string untrained;
  uint64_t seed = 0;
  auto* ck = app.add_option("--checkpoint", checkpoint, "trainer checkpoint or model file");
  auto* un = app.add_option("--untrained", untrained, "export random weights of this architecture (for tests)")->excludes(ck);
  app.add_option("--seed", seed, "seed for --untrained")->needs(un);
  app.add_option("--out", out, "output TorchScript file")->required();
  auto* t = app.add_option("--threshold", threshold, "verification threshold (squared L2 distance)");
  app.add_option("--report", report, "evaluate's JSON report; its best_threshold is used")->excludes(t);
  app.add_option("--align-recipe", recipe, "alignment recipe of the training faces (AlignOptions::recipe())");
  app.add_option("--training-run", training_run, "training run fingerprint (default: the checkpoint's file fingerprint)");
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    face::configure_threads(threads);
    if (checkpoint.empty() && untrained.empty()) face::fail("pass --checkpoint CKPT (or --untrained ARCH for tests)");
    if (report.empty() && !t->count()) face::fail("no verification threshold: pass --threshold T or --report eval.json");
    face::ExportOptions options;
    options.threshold = report.empty() ? threshold : threshold_from_report(report);
    options.align_recipe = recipe;
    if (recipe.empty()) fmt::print(stderr, "warning: no --align-recipe given; the export records it as 'unspecified'\n");
    face::LoadedModel loaded;
    if (!untrained.empty()) {
      fmt::print(stderr, "WARNING: exporting RANDOMLY INITIALISED {} weights (seed {}): for tests only\n", untrained, seed);
      loaded.model = face::Nn4(face::Nn4Options(untrained).seed(seed));
      options.training_run = fmt::format("untrained (seed {})", seed);
      options.source = "untrained " + untrained;
    } else {
      loaded = face::load_model_file(checkpoint);
      options.training_run = training_run.empty() ? "checkpoint " + face::file_fingerprint(checkpoint) : training_run;
      options.source = checkpoint;
    }
    face::ExportMetadata metadata = face::export_model(loaded.model, out, options);
    fmt::print("exported {} ({}-d, weights {}) -> {}, threshold {}, checked against the C++ model\n",
               metadata["arch"], metadata["embedding_dim"], metadata["weights_fingerprint"], out, metadata["threshold"]);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "export: error: {}\n", e.what());
    return 1;
  }
}
