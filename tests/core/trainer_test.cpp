// The trainer end to end on a small synthetic pack: learning, exact resume, crash safety.
#include <gtest/gtest.h>
#include <signal.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "deploy/export.h"
#include "model/dead_filters.h"
#include "model/model_file.h"
#include "test_support.h"
#include "trainer_fixture.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using face::test::TempDir;

using face::test::field;
using face::test::lines_of;
using face::test::pack_file;
using face::test::smoke;

TEST(Trainer, ShortRunLowersLossAndRaisesValidationAccuracy) {
  TempDir runs;
  auto config = smoke(runs.path, {"run.name=learn", "length.steps=16", "optimiser.lr=0.0003",
                                  "evaluation.at_start=true", "checkpoint.every_steps=0"});
  face::Trainer trainer(config, face::load_pack(pack_file()));
  EXPECT_EQ(trainer.train(), face::Trainer::Outcome::finished);
  auto dir = runs.path / "learn";
  auto train = lines_of(dir / "metrics.jsonl", "train");
  auto eval = lines_of(dir / "metrics.jsonl", "eval");
  ASSERT_EQ(train.size(), 16u);
  ASSERT_EQ(eval.size(), 2u);  // before the first step and at the end
  double early = 0, late = 0;
  for (int i = 0; i < 4; ++i) early += field(train[i], "loss"), late += field(train[12 + i], "loss");
  EXPECT_LT(late, early) << "mean loss of the last 4 steps vs the first 4";
  EXPECT_GT(field(eval[1], "validation_accuracy"), field(eval[0], "validation_accuracy"));
  EXPECT_GT(field(eval[1], "validation_auc"), field(eval[0], "validation_auc"));
  EXPECT_GT(field(train.back(), "embedding_spread"), 0.1);  // not collapsed
  // The run directory records what reproduces it, and every checkpoint is a model file.
  EXPECT_TRUE(fs::exists(dir / "config.resolved.yaml"));
  EXPECT_TRUE(fs::exists(dir / "run.json"));
  EXPECT_TRUE(fs::exists(dir / "best.pt"));
  EXPECT_EQ(face::load_model_file(dir / face::checkpoint_name(16)).fingerprint,
            face::weights_fingerprint(*trainer.model()));
}

TEST(Trainer, StoppedAndResumedRunIsBitIdenticalToUninterrupted) {
  TempDir runs;
  // Warm-up + cosine, semi-hard mining with random choices and augmentation: every random
  // generator and the schedule must continue exactly.
  std::vector<std::string> recipe = {"schedule.name=cosine", "schedule.warmup_steps=2", "length.steps=6",
                                     "checkpoint.every_steps=0"};
  auto runs_of = face::test::train_whole_and_resumed(runs.path, recipe, 3);
  auto &whole = *runs_of.whole, &second = *runs_of.resumed;
  EXPECT_EQ(face::weights_fingerprint(*second.model()), face::weights_fingerprint(*whole.model()));
  auto a = whole.model()->parameters(), b = second.model()->parameters();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  // A resume with another recipe is refused.
  recipe.push_back("run.name=split");
  auto other = smoke(runs.path, recipe);
  other.optimiser.lr *= 2;
  EXPECT_THROW((face::Trainer(other, face::load_pack(pack_file()), {"auto", ""})), face::Error);
  // Without --resume, an existing run is not overwritten.
  EXPECT_THROW((face::Trainer(smoke(runs.path, recipe), face::load_pack(pack_file()))), face::Error);
}

TEST(Trainer, ResumeAutoSkipsADamagedCheckpoint) {
  TempDir runs;
  face::Trainer trainer(smoke(runs.path, {"run.name=d", "length.steps=4", "checkpoint.every_steps=2"}),
                        face::load_pack(pack_file()));
  trainer.train();
  auto dir = runs.path / "d";
  auto newest = dir / face::checkpoint_name(4);
  fs::resize_file(newest, fs::file_size(newest) / 2);
  std::vector<std::string> warnings;
  auto found = face::find_resumable(dir, &warnings);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->filename(), face::checkpoint_name(2));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(face::checkpoint_name(4)), std::string::npos) << warnings[0];
}

TEST(Trainer, KilledDuringCheckpointWriteResumesFromThePreviousOne) {
  TempDir runs;
  std::string args = fmt::format("--config {} --set data.pack={} --set run.dir={} --set run.name=k "
                                 "--set length.steps=5 --set checkpoint.every_steps=2",
                                 (face::test::source_dir() / "configs/smoke.yaml").string(), pack_file().string(),
                                 runs.path.string());
  pid_t child = ::fork();
  if (child == 0) {
    std::string command = "LD_PRELOAD=" + face::test::tool("tests/libpause_before_rename.so").string() +
                          " FACE_PAUSE_BEFORE_RENAME=/" + face::checkpoint_name(4) + " exec " +
                          face::test::tool("trainer").string() + " " + args + " >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto dir = runs.path / "k";
  auto paused = [&] {
    if (!fs::exists(dir)) return false;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".paused") return true;
    return false;
  };
  for (int i = 0; i < 1200 && !paused(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(paused()) << "the trainer never reached the step-4 checkpoint write";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(fs::exists(dir / face::checkpoint_name(4)));  // never renamed into place

  auto resumed = face::test::run_command(face::test::tool("trainer").string() + " " + args + " --resume auto");
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(face::checkpoint_name(2) + "' at step 2"), std::string::npos) << resumed.output;
  EXPECT_EQ(face::read_checkpoint_state(dir / face::checkpoint_name(5)).step, 5);
}

TEST(Trainer, ConfigErrorStopsTheProgramBeforeAnyWork) {
  TempDir dir;
  face::test::write_text(dir / "bad.yaml", "data:\n  pack: x.pack\n  pk: 3\nlength:\n  steps: 2\n");
  auto r = face::test::run_command(face::test::tool("trainer").string() + " --config " + (dir / "bad.yaml").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("unknown key 'data.pk'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("line 3"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("loading pack"), std::string::npos) << r.output;
}

TEST(Trainer, ResumeLogsEachStepOnceAndRemovesStaleTemporaries) {
  TempDir runs;
  auto config = smoke(runs.path, {"run.name=tidy", "length.steps=6", "checkpoint.every_steps=3"});
  {
    face::Trainer first(config, face::load_pack(pack_file()));
    first.train();
  }
  auto dir = runs.path / "tidy";
  // As if killed after step 6 was logged but before its checkpoint landed, with a write in flight.
  fs::remove(dir / face::checkpoint_name(6));
  auto stray = dir / ".ckpt-00000006.pt.tmp.4242";
  face::test::write_text(stray, "half a checkpoint");
  fs::last_write_time(stray, fs::last_write_time(dir / face::checkpoint_name(3)) - std::chrono::hours(1));
  ASSERT_EQ(lines_of(dir / "metrics.jsonl", "train").size(), 6u);
  face::Trainer resumed(config, face::load_pack(pack_file()), {"auto", ""});
  EXPECT_EQ(resumed.start_step(), 3);
  EXPECT_FALSE(fs::exists(stray));
  EXPECT_EQ(lines_of(dir / "metrics.jsonl", "train").size(), 3u);  // steps 4..6 dropped, to be logged again
  resumed.train();
  auto rows = lines_of(dir / "metrics.jsonl", "train");
  ASSERT_EQ(rows.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(field(rows[i], "step"), i + 1);
}

TEST(Trainer, AFolderGivenAsThePackGetsTheRightAdvice) {
  TempDir dir;
  fs::create_directories(dir / "aligned");
  auto quoted = [](const fs::path& p) { return "'" + p.string() + "'"; };
  auto r = face::test::run_command(fmt::format("{} --config {} --set data.pack={}", face::test::tool("trainer").string(),
                                               quoted(face::test::source_dir() / "configs/smoke.yaml"),
                                               quoted(dir / "aligned")));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("`pack " + (dir / "aligned").string() + " FILE.pack`"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("--out"), std::string::npos) << r.output;
}

// run.json records the command as typed: the trainer escaped quotes and backslashes by hand
// before the JSON writer escaped them again, so `a"b\c` came back as `a\"b\\c`.
TEST(Trainer, RunJsonRecordsTheCommandLineAsTyped) {
  face::test::TempDir runs;
  const std::string name = R"(quote"and\backslash)";
  auto r = face::test::run_command(fmt::format("{} {} --set 'run.name={}' --set length.steps=1 2>&1",
                                         face::test::tool("trainer").string(), face::test::smoke_args(runs.path, {}), name));
  ASSERT_EQ(r.status, 0) << r.output;
  auto run = nlohmann::json::parse(face::read_file(runs / name / "run.json"));
  const std::string command = run["command_line"];
  EXPECT_NE(command.find("run.name=" + name), std::string::npos) << command;
  EXPECT_EQ(command.find("\\\""), std::string::npos) << "escaped twice: " << command;
}

TEST(Trainer, InitStartsFromAnotherRunsWeightsOrItsExportAndRefusesAnotherShape) {
  TempDir runs;
  face::Trainer first(smoke(runs.path, {"run.name=first", "length.steps=3", "checkpoint.every_steps=0"}),
                      face::load_pack(pack_file()));
  first.train();
  const std::string trained = face::weights_fingerprint(*first.model());
  auto checkpoint = runs.path / "first" / face::checkpoint_name(3);
  auto exported = runs.path / "first.export.pt";
  face::ExportOptions export_options;
  export_options.threshold = 1.0;
  face::export_model(first.model(), exported, export_options);
  // Differently seeded, so only model.init can make the weights equal.
  for (const auto& from : {checkpoint, exported}) {
    face::Trainer tuned(smoke(runs.path, {"run.name=tuned-" + from.stem().string(), "run.seed=7",
                                          "model.init=" + from.string(), "length.steps=1"}),
                        face::load_pack(pack_file()));
    EXPECT_EQ(face::weights_fingerprint(*tuned.model()), trained) << from;
  }
  face::Trainer fresh(smoke(runs.path, {"run.name=fresh", "run.seed=7"}), face::load_pack(pack_file()));
  EXPECT_NE(face::weights_fingerprint(*fresh.model()), trained);
  try {
    face::Trainer other(smoke(runs.path, {"run.name=other", "model.embedding_dim=16", "model.init=" + exported.string()}),
                        face::load_pack(pack_file()));
    FAIL() << "a 128-d model was loaded into a 16-d one";
  } catch (const face::Error& e) {
    EXPECT_NE(std::string(e.what()).find(exported.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(face::Trainer(smoke(runs.path, {"run.name=gone", "model.init=" + (runs.path / "no.pt").string()}),
                             face::load_pack(pack_file())),
               face::Error);
}

TEST(Trainer, ReviveDeadFiltersActsOnTheInitWeights) {
  TempDir runs;
  face::Trainer first(smoke(runs.path, {"run.name=first", "length.steps=1", "checkpoint.every_steps=0"}),
                      face::load_pack(pack_file()));
  first.train();
  // Erase three filters of the network's last convolution as weight decay does (to denormals).
  torch::nn::Conv2dImpl* last = nullptr;
  for (auto& m : first.model()->modules())
    if (auto* conv = m->as<torch::nn::Conv2d>()) last = conv;
  ASSERT_NE(last, nullptr);
  {
    torch::NoGradGuard no_grad;
    for (int64_t f : {1, 2, 3}) last->weight[f].mul_(1e-40f);
  }
  ASSERT_EQ(face::count_dead_filters(*first.model()).filters, 3);
  auto exported = runs.path / "erased.pt";
  face::ExportOptions export_options;
  export_options.threshold = 1.0;
  face::export_model(first.model(), exported, export_options);

  auto init = "model.init=" + exported.string();
  face::Trainer kept(smoke(runs.path, {"run.name=kept", init}), face::load_pack(pack_file()));
  EXPECT_EQ(face::count_dead_filters(*kept.model()).filters, 3);
  face::Trainer revived(smoke(runs.path, {"run.name=revived", init, "model.revive_dead_filters=true"}),
                        face::load_pack(pack_file()));
  EXPECT_EQ(face::count_dead_filters(*revived.model()).filters, 0);
  // Only the dead units changed: the stem's weights are the init's.
  auto stem = [](face::Trainer& t) { return t.model()->named_parameters()[0].value().detach().cpu(); };
  EXPECT_TRUE(stem(revived).equal(stem(kept)));
}
