// teacher_targets: the teacher's embedding of every image of a pack, for distillation.
//
//   teacher_targets PACK [--teacher dlib-resnet|MODEL] [--out PACK.teacher] [--batch 64]
//                   [--device cpu|cuda] [--threads N]
//
// The pack must hold the teacher's own alignment (for dlib-resnet: `align --template dlib-chip
// --size 150`). Recomputed only when the pack or the teacher changed; an interrupted run is
// continued from its last save (every minute). See train/teacher_targets.h.
// Exit status: 0 done or up to date; 1 on any failure (named); 2 for bad options.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/cli_checks.h"
#include "train/teacher_targets.h"
#include "util/device.h"
#include "util/error.h"
#include "util/threads.h"
#include "vision/dlib_resnet_import.h"
#include "vision/model_catalog.h"

int main(int argc, char** argv) {
  CLI::App app{"Compute a teacher's embeddings of every image of a pack (distillation targets)"};
  std::string pack_path, out, teacher = face::kDlibResNetName, device_name = "cpu";
  int64_t batch = 64;
  int threads = 0;
  app.add_option("pack", pack_path, "pack of faces in the teacher's alignment")->required();
  app.add_option("--teacher", teacher, "dlib-resnet, or a model file / TorchScript export")->capture_default_str();
  app.add_option("--out", out, "targets file (default: PACK.teacher)");
  app.add_option("--batch", batch, "images per forward pass")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--device", device_name, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  FACE_PARSE_OPTIONS(app, argc, argv);
  try {
    face::configure_threads(threads);
    auto model = face::open_model({teacher}, face::parse_device(device_name));
    face::Pack pack = face::load_pack(pack_path);
    auto path = out.empty() ? face::default_targets_path(pack_path) : std::filesystem::path(out);
    fmt::print("teacher_targets: {} images of '{}' with {} -> '{}'\n", pack.size(), pack_path, model->description(),
               path.string());
    face::TargetsRun run = face::ensure_teacher_targets(*model, pack, path, batch);
    if (!run.computed) {
      fmt::print("teacher_targets: '{}' is up to date\n", path.string());
      return 0;
    }
    fmt::print("teacher_targets: {} ({}): {} rows in {:.1f} s ({:.1f} faces/s)\n", path.string(), run.reason,
               run.rows_computed, run.seconds, run.rows_computed / std::max(run.seconds, 1e-9));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "teacher_targets: error: {}\n", e.what());
    return 1;
  }
}
