// The trainer under the faults issue #4 names: a real SIGTERM/SIGINT to the running program,
// non-finite steps, and a full disk or unwritable run directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "model/model_file.h"
#include "test_support.h"
#include "train/checkpoint.h"
#include "train/hooks.h"
#include "train/trainer.h"
#include "trainer_fixture.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using face::test::TempDir;
using face::test::field;
using face::test::lines_of;
using face::test::smoke;
using face::test::smoke_args;

namespace {

// Starts `trainer ARGS` in the background, output to `log`.
pid_t start_trainer(const std::string& args, const fs::path& log) {
  pid_t child = ::fork();
  if (child == 0) {
    std::string command = "exec " + face::test::tool("trainer").string() + " " + args + " >" + log.string() + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return child;
}

// The step of the last telemetry line in `metrics` (0 when none).
int64_t last_logged_step(const fs::path& metrics) {
  auto train = lines_of(metrics, "train");
  return train.empty() ? 0 : static_cast<int64_t>(field(train.back(), "step"));
}

// Sends `signo` once the run has logged a step past `after`; returns the wait status.
int interrupt_after(pid_t child, const fs::path& metrics, int64_t after, int signo) {
  for (int i = 0; i < 1200 && last_logged_step(metrics) <= after; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GT(last_logged_step(metrics), after) << "the trainer logged no step within 60 s";
  ::kill(child, signo);
  int status = 0;
  ::waitpid(child, &status, 0);
  return status;
}

std::vector<torch::Tensor> copy_of(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters) out.push_back(p.detach().clone());
  return out;
}

bool all_finite(const std::vector<torch::Tensor>& parameters) {
  for (const auto& p : parameters)
    if (!torch::isfinite(p).all().item<bool>()) return false;
  return true;
}

// Makes the steps after `from` (through `to`, inclusive) non-finite, as an overflowing forward
// would: one weight of the first convolution is NaN while they run, and restored after the last.
// Records the parameters as they were before the poisoned steps, for comparison.
class PoisonSteps : public face::Hook {
 public:
  PoisonSteps(int64_t from, int64_t to) : from_(from), to_(to) {}
  void after_step(face::Trainer& t) override {
    int64_t step = t.state().step;
    auto weight = t.model()->parameters()[0];
    torch::NoGradGuard no_grad;
    if (step == from_) {
      before = copy_of(t.model()->parameters());
      saved_ = weight.index({0, 0, 0, 0}).item<float>();
      weight.index({0, 0, 0, 0}).fill_(std::nan(""));  // a view whatever the layout (flatten may copy)
    } else if (step == to_) {
      after = copy_of(t.model()->parameters());
      weight.index({0, 0, 0, 0}).fill_(saved_);
      after[0].index({0, 0, 0, 0}).fill_(saved_);
    }
  }
  std::vector<torch::Tensor> before, after;

 private:
  int64_t from_, to_;
  float saved_ = 0;
};

}  // namespace

TEST(TrainerRobustness, SignalFinishesTheStepWritesACheckpointAndResumeContinues) {
  TempDir runs;
  auto dir = runs.path / "sig";
  auto args = smoke_args(runs.path, {"run.name=sig", "length.steps=100000", "checkpoint.every_steps=0"});

  // SIGTERM: exit status 128 + 15, a checkpoint of exactly the last step reached.
  pid_t child = start_trainer(args, runs.path / "term.log");
  int status = interrupt_after(child, dir / "metrics.jsonl", 1, SIGTERM);
  auto log = face::read_file(runs.path / "term.log");
  ASSERT_TRUE(WIFEXITED(status)) << "killed instead of stopping cleanly:\n" << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << log;
  int64_t reached = last_logged_step(dir / "metrics.jsonl");  // the stopping step is logged too
  auto checkpoints = face::list_checkpoints(dir);
  ASSERT_EQ(checkpoints.size(), 1u) << log;
  EXPECT_EQ(checkpoints[0].filename(), face::checkpoint_name(reached));
  EXPECT_EQ(face::read_checkpoint_state(checkpoints[0]).step, reached);
  EXPECT_NE(log.find(fmt::format("stopped at step {}", reached)), std::string::npos) << log;

  // SIGINT on the resumed run: 128 + 2, a later checkpoint.
  child = start_trainer(args + " --resume auto", runs.path / "int.log");
  status = interrupt_after(child, dir / "metrics.jsonl", reached, SIGINT);
  log = face::read_file(runs.path / "int.log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << log;
  EXPECT_NE(log.find(fmt::format("at step {}", reached)), std::string::npos) << "did not resume:\n" << log;
  int64_t second = last_logged_step(dir / "metrics.jsonl");
  EXPECT_GT(second, reached);
  EXPECT_EQ(face::read_checkpoint_state(dir / face::checkpoint_name(second)).step, second);

  // And the run completes from there.
  auto done = face::test::run_command(face::test::tool("trainer").string() + " " + args + " --resume auto --set length.steps=" +
                                      std::to_string(second + 1));
  EXPECT_EQ(done.status, 0) << done.output;
  EXPECT_NE(done.output.find(fmt::format("at step {}", second)), std::string::npos) << done.output;
  EXPECT_EQ(face::read_checkpoint_state(dir / face::checkpoint_name(second + 1)).step, second + 1);
}

TEST(TrainerRobustness, NonFiniteStepIsSkippedCountedAndLeavesTheWeights) {
  TempDir runs;
  face::Trainer trainer(smoke(runs.path, {"run.name=nan", "length.steps=5", "checkpoint.every_steps=0"}),
                        face::load_pack(face::test::pack_file()));
  auto poison = std::make_unique<PoisonSteps>(2, 3);  // step 3 is non-finite
  auto* hook = poison.get();
  trainer.add_hook(std::move(poison));
  ASSERT_EQ(trainer.train(), face::Trainer::Outcome::finished);
  EXPECT_EQ(trainer.state().nonfinite_total, 1);
  ASSERT_FALSE(hook->before.empty());
  ASSERT_FALSE(hook->after.empty());
  for (size_t i = 0; i < hook->before.size(); ++i)
    ASSERT_TRUE(torch::equal(hook->before[i], hook->after[i])) << "parameter " << i << " changed by the skipped step";
  EXPECT_TRUE(all_finite(trainer.model()->parameters()));
  // Steps 4 and 5 trained again, and telemetry shows the skipped one.
  EXPECT_FALSE(torch::equal(hook->after[1], trainer.model()->parameters()[1]));
  auto train = lines_of(runs.path / "nan/metrics.jsonl", "train");
  ASSERT_EQ(train.size(), 5u);
  EXPECT_TRUE(std::isnan(field(train[2], "loss"))) << train[2];  // logged as null
  EXPECT_EQ(field(train[2], "nonfinite_total"), 1) << train[2];
  EXPECT_TRUE(std::isfinite(field(train[4], "loss"))) << train[4];
  EXPECT_EQ(face::read_checkpoint_state(runs.path / "nan" / face::checkpoint_name(5)).nonfinite_total, 1);
}

TEST(TrainerRobustness, NonFiniteStepsInARowStopTheRunAndKeepTheLastCheckpoint) {
  TempDir runs;
  // Checkpoints at 3 and 6; steps 4, 5 and 6 are non-finite, so the run stops inside step 6,
  // before its checkpoint. (The poisoned weight is the test's doing: a real skipped step leaves
  // the weights as they were, so checkpoints between skipped steps are good ones.)
  face::Trainer trainer(smoke(runs.path, {"run.name=nan", "length.steps=20", "checkpoint.every_steps=3",
                                          "guard.max_nonfinite_in_row=3"}),
                        face::load_pack(face::test::pack_file()));
  auto poison = std::make_unique<PoisonSteps>(3, 1000);
  auto* hook = poison.get();
  trainer.add_hook(std::move(poison));
  try {
    trainer.train();
    FAIL() << "the run went on through non-finite steps";
  } catch (const face::Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("3 steps in a row"), std::string::npos) << message;
    EXPECT_NE(message.find("non-finite"), std::string::npos) << message;
    EXPECT_NE(message.find(runs.path.string()), std::string::npos) << "names the run directory: " << message;
  }
  EXPECT_EQ(trainer.state().nonfinite_total, 3);
  EXPECT_EQ(trainer.state().step, 5);  // steps done; the 6th stopped the run
  // The newest checkpoint is ckpt-3, written before the bad steps: it verifies and holds the
  // weights of step 3 exactly.
  auto dir = runs.path / "nan";
  auto found = face::find_resumable(dir, nullptr);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->filename(), face::checkpoint_name(3));
  auto saved = face::load_model_file(*found).model->parameters();
  ASSERT_EQ(saved.size(), hook->before.size());
  for (size_t i = 0; i < saved.size(); ++i) ASSERT_TRUE(torch::equal(saved[i], hook->before[i])) << "parameter " << i;
}

// A file-size limit (ulimit -f) fails checkpoint writes with EFBIG, as a full disk does with
// ENOSPC; it works for root too, where a read-only directory does not stop writes.
TEST(TrainerRobustness, FullDiskIsReportedAndThePreviousCheckpointStays) {
  TempDir runs;
  auto dir = runs.path / "disk";
  auto args = smoke_args(runs.path, {"run.name=disk", "checkpoint.every_steps=1"});
  auto first = face::test::run_command(face::test::tool("trainer").string() + " " + args + " --set length.steps=2");
  ASSERT_EQ(first.status, 0) << first.output;
  auto previous = dir / face::checkpoint_name(2);
  auto bytes = face::read_file(previous);
  ASSERT_GT(bytes.size(), 4u << 20);

  // The limit lets the small files through but not a checkpoint (about 45 MB here).
  auto limited = face::test::run_command(fmt::format("bash -c 'ulimit -f {}; exec {} {} --resume auto --set length.steps=4'",
                                                     bytes.size() / 1024 / 2, face::test::tool("trainer").string(), args));
  EXPECT_EQ(limited.status, 1) << limited.output;
  EXPECT_NE(limited.output.find(face::checkpoint_name(3)), std::string::npos) << "names the file:\n" << limited.output;
  EXPECT_NE(limited.output.find("File too large"), std::string::npos) << limited.output;
  EXPECT_EQ(limited.output.find("Exception raised from"), std::string::npos) << "no LibTorch backtrace:\n"
                                                                             << limited.output;
  // Nothing half-written is left, the previous checkpoint is byte-identical and resumes.
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  EXPECT_FALSE(fs::exists(dir / face::checkpoint_name(3)));
  EXPECT_EQ(face::read_file(previous), bytes);
  auto resumed = face::test::run_command(face::test::tool("trainer").string() + " " + args +
                                         " --resume auto --set length.steps=3");
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(face::checkpoint_name(2) + "' at step 2"), std::string::npos) << resumed.output;
}

TEST(TrainerRobustness, UnwritableRunDirectoryIsReportedBeforeTraining) {
  TempDir runs;
  face::test::write_text(runs / "file", "not a directory\n");
  try {
    face::Trainer trainer(smoke(runs.path / "file", {"run.name=x"}), face::load_pack(face::test::pack_file()));
    FAIL() << "a run directory under a file was accepted";
  } catch (const face::Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("run directory"), std::string::npos) << message;
    EXPECT_NE(message.find((runs.path / "file" / "x").string()), std::string::npos) << message;
  }
}
