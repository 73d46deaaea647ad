// trainer: FaceNet triplet-loss training from a YAML recipe.
//
//   trainer --config configs/nn4.yaml [--set key=value ...] [--resume PATH|auto] [--device cpu|cuda]
//
// Writes experiments/<run.name>/: config.resolved.yaml, run.json, metrics.jsonl, checkpoints
// (ckpt-NNNNNNNN.pt, best.pt). SIGINT/SIGTERM finish the step, write a checkpoint and exit with
// 128 + the signal number; a second one ends the program at once (checkpoints are written
// atomically, so that loses only the steps since the last one). Exit 0 when the run is complete,
// 1 on an error (the message names the key, file or step; a full disk names the file that could
// not be written), 2 on bad command-line arguments. See docs/train.md.
//
// Distributed: torchrun --nproc-per-node N --no-python trainer --config ... (one process per
// device; see train/distributed.h and docs/train.md "Distributed training").
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>

#include "apps/cli_checks.h"
#include "data/pack.h"
#include "train/distributed.h"
#include "train/trainer.h"
#include "util/error.h"

namespace {
volatile std::sig_atomic_t g_signal = 0;
void on_signal(int signo) {
  g_signal = signo;
  face::Trainer::request_stop();
  std::signal(signo, SIG_DFL);  // async-signal-safe; the next one is not caught
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a FaceNet embedding with triplet loss"};
  std::string config_file, resume, device;
  std::vector<std::string> overrides;
  int64_t stop_after = 0;
  app.add_option("--config", config_file, "YAML recipe (see docs/train.md)")->required();
  app.add_option("--set", overrides, "override one key, e.g. --set optimiser.lr=1e-4 (repeatable)");
  app.add_option("--resume", resume, "checkpoint to continue, or 'auto' for the newest usable one in the run dir");
  app.add_option("--device", device, "cpu, cuda or cuda:N (overrides runtime.device)");
  app.add_option("--stop-after", stop_after, "stop cleanly (as on SIGTERM) after this many steps, e.g. to fit a time slot")
      ->check(face::cli::count(0));
  FACE_PARSE_OPTIONS(app, argc, argv);

  // Past a file-size limit (ulimit -f) the kernel sends SIGXFSZ, whose default action kills the
  // process without a word; ignored, the write fails with EFBIG and the error names the file.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    if (!device.empty()) overrides.push_back("runtime.device=" + device);
    auto config = face::load_config(config_file, overrides);
    if (std::filesystem::is_directory(config.data.pack))
      face::fail("data.pack '{}' is a folder: build a pack from it first (`pack {} FILE.pack`) and point "
                 "data.pack at that file", config.data.pack, config.data.pack);
    std::string command_line;
    for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);  // as typed: run.json's writer escapes it
    if (!std::getenv("RANK") || std::string(std::getenv("RANK")) == "0")
      fmt::print("loading pack '{}'\n", config.data.pack);
    face::Pack pack = face::load_pack(config.data.pack);
    face::Trainer trainer(std::move(config), std::move(pack), {resume, command_line, stop_after});
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    auto outcome = trainer.train();
    if (outcome == face::Trainer::Outcome::stopped) return g_signal ? 128 + static_cast<int>(g_signal) : 0;
    if (trainer.is_main()) fmt::print("finished {} steps in '{}'\n", trainer.state().step, trainer.run_dir().string());
    if (trainer.distributed())  // each rank reports what it holds
      fmt::print("rank {} of {}: finished at step {}, parameters {}\n", trainer.distributed()->rank(),
                 trainer.world_size(), trainer.state().step, face::parameters_fingerprint(*trainer.model()));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
