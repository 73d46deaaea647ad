// Distributed data-parallel training on CPU (Gloo) with two processes on 127.0.0.1: ranks stay
// identical, global-batch mining matches one process, resume restores every rank's streams, and
// a dead rank makes the survivor fail instead of hanging.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "data/pack.h"
#include "model/model_file.h"
#include "model/nn4.h"
#include "test_support.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/distributed_backends.h"
#include "train/miner.h"
#include "train/triplet_loss.h"
#include "util/error.h"

namespace fs = std::filesystem;
using face::test::TempDir;

namespace {

#define REQUIRE_GLOO() \
  if (!face::gloo_compiled_in()) GTEST_SKIP() << "this build has no Gloo (install libgloo-dev and re-run cmake)"

// A TCP port free right now on 127.0.0.1 (the store binds it a moment later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One process per rank, as torchrun starts them (its variables, no agent store); output to logs.
struct Ranks {
  std::vector<pid_t> pids;
  std::vector<fs::path> logs;
};
Ranks launch(int world, const std::string& command, const fs::path& log_dir, const std::string& extra_env = "") {
  Ranks ranks;
  int port = free_port();
  for (int r = 0; r < world; ++r) {
    auto log = log_dir / fmt::format("rank{}.log", r);
    auto line = fmt::format("{} RANK={} LOCAL_RANK={} WORLD_SIZE={} LOCAL_WORLD_SIZE={} MASTER_ADDR=127.0.0.1 "
                            "MASTER_PORT={} exec {} >{} 2>&1",
                            extra_env, r, r, world, world, port, command, log.string());
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ranks.pids.push_back(pid);
    ranks.logs.push_back(log);
  }
  return ranks;
}

// Exit status of `pid`, or -1 (after killing it) when it has not exited within `seconds`.
int wait_exit(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `world` trainer ranks to completion; every rank must exit 0 within the deadline.
std::vector<std::string> run_trainers(int world, const std::string& args, const fs::path& log_dir) {
  fs::create_directories(log_dir);
  auto ranks = launch(world, face::test::tool("trainer").string() + " " + args, log_dir);
  std::vector<std::string> outputs;
  for (int r = 0; r < world; ++r) {
    int status = wait_exit(ranks.pids[r], 120);
    outputs.push_back(read_text(ranks.logs[r]));
    EXPECT_EQ(status, 0) << "rank " << r << ":\n" << outputs.back();
  }
  return outputs;
}

// "rank R of W: finished at step S, parameters F" -> F.
std::string final_weights(const std::string& output, int rank) {
  std::smatch m;
  std::regex line(fmt::format("rank {} of \\d+: finished at step \\d+, parameters ([0-9a-f]+)", rank));
  return std::regex_search(output, m, line) ? m[1].str() : std::string("(none in output)");
}

// Random images: enough for the mechanics (these tests check equality, not learning).
const fs::path& pack_file() {
  static TempDir dir;
  static fs::path file = [] {
    torch::manual_seed(11);
    face::Pack pack;
    const int64_t identities = 12, per_identity = 4;
    pack.images = torch::randint(0, 256, {identities * per_identity, 3, 96, 96}, torch::kUInt8);
    pack.labels = torch::arange(identities).repeat_interleave(per_identity);
    for (int64_t i = 0; i < identities * per_identity; ++i) {
      if (i % per_identity == 0) pack.identities.push_back(fmt::format("id{:02d}", i / per_identity));
      pack.paths.push_back(fmt::format("id{:02d}/{}.png", i / per_identity, i % per_identity));
    }
    pack.source_fingerprint = "random";
    auto path = dir / "random.pack";
    face::save_pack(path, pack);
    return path;
  }();
  return file;
}

std::string trainer_args(const fs::path& runs, const std::string& name, const std::string& extra) {
  return fmt::format("--config {} --set data.pack={} --set run.dir={} --set run.name={} --set runtime.threads=1 "
                     "--set distributed.timeout_seconds=30 --set distributed.bucket_mb=1 "
                     "--set evaluation.precise_bn_batches=1 {}",
                     (face::test::source_dir() / "configs/smoke.yaml").string(), pack_file().string(),
                     runs.string(), name, extra);
}

}  // namespace

TEST(Distributed, LaunchEnvironmentIsReadAndCheckedNamingTheVariable) {
  ::unsetenv("RANK"), ::unsetenv("WORLD_SIZE");
  EXPECT_FALSE(face::read_launch_environment().has_value());
  ::setenv("RANK", "1", 1), ::setenv("WORLD_SIZE", "2", 1), ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1), ::setenv("MASTER_PORT", "29511", 1);
  auto e = face::read_launch_environment();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rank, 1);
  EXPECT_EQ(e->world_size, 2);
  EXPECT_EQ(e->master_port, 29511);
  ::setenv("RANK", "2", 1);
  try {
    face::read_launch_environment();
    ADD_FAILURE() << "RANK=2 with WORLD_SIZE=2 was accepted";
  } catch (const face::Error& err) {
    EXPECT_NE(std::string(err.what()).find("RANK='2'"), std::string::npos) << err.what();
  }
  ::setenv("RANK", "0", 1), ::unsetenv("MASTER_ADDR");
  EXPECT_THROW(face::read_launch_environment(), face::Error);
  for (auto v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"}) ::unsetenv(v);
  // Rank 0 of a fresh run keeps the seed (single-process runs are unchanged); others differ.
  EXPECT_EQ(face::rank_seed(7, 0), 7u);
  EXPECT_NE(face::rank_seed(7, 1), 7u);
  EXPECT_NE(face::rank_seed(7, 1), face::rank_seed(7, 1, 100));
}

TEST(Distributed, TwoRanksEndWithIdenticalWeightsAndRank0WritesCheckpoints) {
  REQUIRE_GLOO();
  TempDir runs;
  auto out = run_trainers(2, trainer_args(runs.path, "two", "--set length.steps=4 --set checkpoint.every_steps=2"),
                          runs / "logs");
  auto w0 = final_weights(out[0], 0), w1 = final_weights(out[1], 1);
  EXPECT_EQ(w0, w1) << out[0] << out[1];
  auto dir = runs.path / "two";
  auto ckpt = dir / face::checkpoint_name(4);
  ASSERT_TRUE(fs::exists(ckpt)) << out[0];
  EXPECT_EQ(face::parameters_fingerprint(*face::load_model_file(ckpt).model), w0);
  auto state = face::read_checkpoint_state(ckpt);
  EXPECT_EQ(state.world_size, 2);
  ASSERT_EQ(state.rank_samplers.size(), 2u);
  EXPECT_NE(state.rank_samplers[0], state.rank_samplers[1]) << "ranks must sample from their own streams";
  EXPECT_EQ(state.rank_rng_cpu.size(), 2u);
  // Logging from rank 0 only: its metrics count all ranks' images; rank 1 prints no steps.
  EXPECT_NE(out[0].find("step 4/4"), std::string::npos) << out[0];
  EXPECT_EQ(out[1].find("step 4/4"), std::string::npos) << out[1];
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "run.json"))["world_size"], 2);
}

TEST(Distributed, ResumeRestoresEveryRanksStreamsAndAcceptsAnotherWorldSize) {
  REQUIRE_GLOO();
  TempDir runs;
  const std::string recipe = "--set length.steps=4 --set checkpoint.every_steps=0 --set evaluation.every_steps=0";
  auto whole = run_trainers(2, trainer_args(runs.path, "whole", recipe), runs / "a");
  run_trainers(2, trainer_args(runs.path, "split", recipe + " --stop-after 2"), runs / "b");
  auto resumed = run_trainers(2, trainer_args(runs.path, "split", recipe + " --resume auto"), runs / "c");
  EXPECT_NE(resumed[0].find("at step 2"), std::string::npos) << resumed[0];
  EXPECT_EQ(final_weights(resumed[0], 0), final_weights(whole[0], 0)) << resumed[0] << whole[0];
  EXPECT_EQ(resumed[0].find("re-derived"), std::string::npos) << resumed[0];

  // One process continuing a two-rank checkpoint: warned, and it finishes.
  auto single = face::test::run_command(face::test::tool("trainer").string() + " " +
                                        trainer_args(runs.path, "split", "--set length.steps=5 --resume auto"));
  EXPECT_EQ(single.status, 0) << single.output;
  EXPECT_NE(single.output.find("written by 2 rank(s), this run has 1"), std::string::npos) << single.output;
  EXPECT_EQ(face::read_checkpoint_state(runs.path / "split" / face::checkpoint_name(5)).world_size, 1);
}

TEST(Distributed, ARankKilledMidRunMakesTheOtherExitNonZeroWithinTheTimeout) {
  REQUIRE_GLOO();
  TempDir runs;
  fs::create_directories(runs / "logs");
  auto args = trainer_args(runs.path, "dies", "--set length.steps=100000 --set checkpoint.every_steps=0 "
                                              "--set evaluation.every_steps=0 --set distributed.timeout_seconds=10");
  auto ranks = launch(2, face::test::tool("trainer").string() + " " + args, runs / "logs");
  auto metrics = runs.path / "dies" / "metrics.jsonl";
  auto lines = [&] {
    std::ifstream in(metrics);
    return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
  };
  for (int i = 0; i < 1200 && lines() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(lines(), 2) << "the ranks never trained: " << read_text(ranks.logs[0]) << read_text(ranks.logs[1]);
  ::kill(ranks.pids[1], SIGKILL);
  ::waitpid(ranks.pids[1], nullptr, 0);
  auto killed_at = std::chrono::steady_clock::now();
  int status = wait_exit(ranks.pids[0], 40);  // timeout 10 s, plus slack for 2 busy cores
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  auto output = read_text(ranks.logs[0]);
  ASSERT_NE(status, -1) << "rank 0 still ran 40 s after its peer died:\n" << output;
  EXPECT_EQ(status, 1) << output;
  EXPECT_NE(output.find("rank 0 of 2"), std::string::npos) << output;
  EXPECT_NE(output.find("within 10 s"), std::string::npos) << output;
  RecordProperty("survivor_exit_seconds", std::to_string(took));
}

// ---- global-batch mining across two ranks equals one process -------------------------------
// The worker below runs in child processes (this test binary, one per rank); the test compares
// their weights with the same steps taken by one process on the whole batch. Batch norm is per
// rank (documented), so the single-process reference normalises each rank's half separately.

namespace {

constexpr int kSteps = 3, kPerRank = 8;

// The global batch of step `s`: 2 ranks x 8 images, 4 identities x 2 images per rank.
std::pair<torch::Tensor, torch::Tensor> global_batch(int step) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(100 + step);
  auto images = torch::rand({2 * kPerRank, 3, 96, 96}, gen);
  auto labels = torch::arange(2 * kPerRank, torch::kLong).floor_divide(2);
  return {images, labels};
}

torch::Tensor batch_all_loss(const torch::Tensor& embeddings, const torch::Tensor& labels) {
  auto d = face::squared_distances(embeddings);
  auto mask = face::mine_triplets(d.detach(), labels, {face::MiningStrategy::batch_all, face::MiningFallback::hardest, 0.2});
  return face::triplet_loss_from_distances(d, mask, {0.2, /*average_over_active=*/true});
}

face::Nn4 fresh_model() { return face::Nn4(face::Nn4Options("nn4.small2").seed(3)); }

}  // namespace

TEST(DISABLED_DistributedWorker, GlobalBatchAllMining) {
  auto env = face::read_launch_environment();
  ASSERT_TRUE(env.has_value());
  torch::set_num_threads(1);
  face::Distributed dist(*env, torch::kCPU, {20, 0.5});
  auto model = fresh_model();
  torch::optim::SGD optimiser(model->parameters(), torch::optim::SGDOptions(0.05));
  face::GradientReducer reducer(dist, model->parameters(), 0.5);
  EXPECT_GT(reducer.buckets(), 1);
  for (int s = 0; s < kSteps; ++s) {
    auto [images, labels] = global_batch(s);
    auto mine = torch::indexing::Slice(dist.rank() * kPerRank, (dist.rank() + 1) * kPerRank);
    auto global = face::gather_batch(dist, model->forward(images.index({mine})), labels.index({mine}));
    ASSERT_TRUE(torch::equal(global.labels, labels));
    optimiser.zero_grad();
    (batch_all_loss(global.embeddings, global.labels) * global.loss_scale).backward();
    reducer.finish();
    optimiser.step();
  }
  torch::save(model->parameters(), std::getenv("FACE_TEST_OUT") + std::to_string(dist.rank()) + ".pt");
}

TEST(Distributed, GlobalBatchAllMiningOnTwoRanksMatchesOneProcess) {
  REQUIRE_GLOO();
  TempDir dir;
  auto self = fs::read_symlink("/proc/self/exe").string();
  auto ranks = launch(2, self + " --gtest_also_run_disabled_tests --gtest_filter=DISABLED_DistributedWorker.*",
                      dir.path, "FACE_TEST_OUT=" + (dir / "rank").string());
  for (int r = 0; r < 2; ++r) ASSERT_EQ(wait_exit(ranks.pids[r], 120), 0) << read_text(ranks.logs[r]);

  torch::set_num_threads(1);  // as the workers
  auto model = fresh_model();
  torch::optim::SGD optimiser(model->parameters(), torch::optim::SGDOptions(0.05));
  for (int s = 0; s < kSteps; ++s) {
    auto [images, labels] = global_batch(s);
    auto embeddings = torch::cat({model->forward(images.slice(0, 0, kPerRank)),
                                  model->forward(images.slice(0, kPerRank, 2 * kPerRank))});
    optimiser.zero_grad();
    batch_all_loss(embeddings, labels).backward();
    optimiser.step();
  }
  std::vector<torch::Tensor> rank0, rank1;
  torch::load(rank0, (dir / "rank0.pt").string());
  torch::load(rank1, (dir / "rank1.pt").string());
  auto reference = model->parameters();
  ASSERT_EQ(rank0.size(), reference.size());
  double worst = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_TRUE(torch::equal(rank0[i], rank1[i])) << "parameter " << i << " differs between the ranks";
    EXPECT_TRUE(torch::allclose(rank0[i], reference[i], 1e-3, 1e-5)) << "parameter " << i;
    worst = std::max(worst, (rank0[i] - reference[i]).abs().max().item<double>());
  }
  // The steps moved the weights far more than the tolerance, so the comparison means something.
  auto initial = fresh_model()->parameters();
  double moved = 0;
  for (size_t i = 0; i < reference.size(); ++i)
    moved = std::max(moved, (reference[i] - initial[i]).abs().max().item<double>());
  EXPECT_GT(moved, 100 * std::max(worst, 1e-7)) << "moved " << moved << ", worst difference " << worst;
  RecordProperty("largest_weight_change", fmt::format("{:.3g}", moved));
  RecordProperty("largest_difference_to_one_process", fmt::format("{:.3g}", worst));
}
