// export: checkpoint -> self-describing TorchScript module (see deploy/export.h).
//
//   export --checkpoint CKPT --out model.pt (--threshold T | --report eval.json)
//          [--align-recipe TEXT] [--training-run ID]
//   export --untrained nn4.small2 [--seed S] --out model.pt --threshold T
//   ... [--onnx model.onnx [--opset 17]]
//
// --untrained exports randomly initialised weights, for testing and timing deployment pipelines
// before a model is trained; the export records training_run "untrained (seed S)".
//
// The verification threshold comes from `evaluate` (its JSON report's "best_threshold", accepted
// only when the report's model fingerprint is these weights') or is given directly; verify and
// identify use it unless told otherwise. A report of an LFW list also gives the distances at
// strict FARs over every pair of different people (eval/impostor_thresholds.h), from which
// `cluster` takes its default threshold; with --threshold the export records none.
//
// --onnx also writes the export as an ONNX model (deploy/onnx_export.h: through the venv's
// torch, checked in onnxruntime against the TorchScript module), with the same metadata.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/cli_checks.h"
#include "deploy/export.h"
#include "deploy/onnx_export.h"
#include "model/model_file.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/threads.h"

int main(int argc, char** argv) {
  CLI::App app{"Export a facenet-cpp checkpoint as a TorchScript module with its metadata"};
  std::string checkpoint, out, report, recipe, training_run, onnx;
  int opset = 17;
  double threshold = 0;
  int threads = 0;
  std::string untrained;
  uint64_t seed = 0;
  auto* ck = app.add_option("--checkpoint", checkpoint, "trainer checkpoint or model file");
  auto* un = app.add_option("--untrained", untrained, "export random weights of this architecture (for tests)")->excludes(ck);
  app.add_option("--seed", seed, "seed for --untrained")->needs(un);
  app.add_option("--out", out, "output TorchScript file")->required();
  auto* t = app.add_option("--threshold", threshold, "verification threshold (squared L2 distance)")->check(face::cli::finite(1e-9, 4));
  app.add_option("--report", report, "evaluate's JSON report; its best_threshold is used")->excludes(t);
  app.add_option("--align-recipe", recipe, "alignment recipe of the training faces (AlignOptions::recipe())");
  app.add_option("--training-run", training_run, "training run fingerprint (default: the checkpoint's file fingerprint)");
  auto* o = app.add_option("--onnx", onnx, "also write the model as ONNX (for onnxruntime, OpenVINO, TensorRT)");
  app.add_option("--opset", opset, "ONNX opset for --onnx")->capture_default_str()->check(CLI::Range(13, 21))->needs(o);
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    face::configure_threads(threads);
    if (checkpoint.empty() && untrained.empty()) face::fail("pass --checkpoint CKPT (or --untrained ARCH for tests)");
    if (report.empty() && !t->count()) face::fail("no verification threshold: pass --threshold T or --report eval.json");
    if (!onnx.empty() && std::filesystem::weakly_canonical(onnx) == std::filesystem::weakly_canonical(out))
      face::fail("--onnx '{}' is the --out file: give the ONNX model a name of its own", onnx);
    face::ExportOptions options;
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
    if (loaded.fingerprint.empty()) loaded.fingerprint = face::weights_fingerprint(*loaded.model);
    face::set_export_thresholds(options, report, loaded.fingerprint, threshold);
    face::ExportMetadata metadata = face::export_model(loaded.model, out, options);
    fmt::print("exported {} ({}-d, weights {}) -> {}, threshold {}, strict thresholds {}, checked against the C++ model\n",
               metadata["arch"], metadata["embedding_dim"], metadata["weights_fingerprint"], out, metadata["threshold"],
               metadata.count("far_thresholds") ? metadata["far_thresholds"] : "none");
    if (!onnx.empty()) {
      face::export_onnx(out, onnx, opset);
      fmt::print("exported {} as ONNX (opset {}) -> {}, checked in onnxruntime\n", out, opset, onnx);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "export: error: {}\n", e.what());
    return 1;
  }
}
