// trainer_fixture.h: what the trainer tests share: a small synthetic pack that a few steps can
// learn from, the smoke recipe pointed at it, a run made whole and in two halves, and readers of
// metrics.jsonl.
#pragma once
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "data/pack.h"
#include "model/embedder.h"
#include "test_support.h"
#include "train/config.h"
#include "train/trainer.h"

namespace face::test {

// Identities are distinct random colour blobs (a 4x4 pattern blown up to 96x96); each image of an
// identity is shifted, re-lit and noised. Paths are "person_NNN/J.png".
inline Pack synthetic_pack(int64_t identities, int64_t per_identity, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Pack pack;
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  for (int64_t id = 0; id < identities; ++id) {
    auto base = torch::upsample_bilinear2d(torch::rand({1, 3, 4, 4}, gen), {96, 96}, false);
    pack.identities.push_back(fmt::format("person_{:03d}", id));
    for (int64_t j = 0; j < per_identity; ++j) {
      auto shift = torch::randint(-12, 13, {2}, gen);
      auto img = base.roll({shift[0].item<int64_t>(), shift[1].item<int64_t>()}, {2, 3});
      img = img * (0.7 + 0.6 * torch::rand({1}, gen)) + 0.15 * torch::randn({1, 3, 96, 96}, gen);
      images.push_back((img.clamp(0, 1) * 255).round().to(torch::kUInt8));
      labels.push_back(id);
      pack.paths.push_back(fmt::format("person_{:03d}/{}.png", id, j));
    }
  }
  pack.images = torch::cat(images);
  pack.labels = torch::tensor(labels, torch::kLong);
  pack.source_fingerprint = "synthetic";
  return pack;
}

// A stand-in teacher: a fixed random projection of the pixels, so targets carry identity signal.
class ProjectionTeacher : public face::Embedder {
 public:
  explicit ProjectionTeacher(int64_t size = 96) : size_(size) {
    projection_ = torch::randn({3 * size * size, 16}, torch::Generator(at::make_generator<at::CPUGeneratorImpl>(3)));
  }
  torch::Tensor embed(const torch::Tensor& images) override {
    ++calls;
    auto x = images.to(torch::kFloat32).flatten(1).matmul(projection_);
    return x / x.norm(2, 1, true);
  }
  int64_t embedding_dim() const override { return 16; }
  int64_t input_size() const override { return size_; }
  std::string fingerprint() const override { return "projection"; }
  std::string description() const override { return "projection teacher"; }
  int calls = 0;

 private:
  int64_t size_;
  torch::Tensor projection_;
};


// The training pack of the trainer tests (24 identities x 6 images), written once per process.
inline const std::filesystem::path& pack_file() {
  static TempDir dir;
  static std::filesystem::path file = [] {
    auto path = dir / "synthetic.pack";
    save_pack(path, synthetic_pack(24, 6, 7));
    return path;
  }();
  return file;
}

// configs/smoke.yaml on pack_file(), runs under `runs`, then `overrides`.
inline TrainConfig smoke(const std::filesystem::path& runs, std::vector<std::string> overrides) {
  overrides.insert(overrides.begin(), {"data.pack=" + pack_file().string(), "run.dir=" + runs.string()});
  return load_config(source_dir() / "configs/smoke.yaml", overrides);
}

// One recipe trained twice under `runs`: whole ("whole"), and stopped after `stop_after` steps
// then resumed with --resume auto ("split"). Tests compare the two finished trainers.
struct WholeAndResumed {
  std::unique_ptr<Trainer> whole, resumed;
};
inline WholeAndResumed train_whole_and_resumed(const std::filesystem::path& runs, const std::vector<std::string>& recipe,
                                               int64_t stop_after) {
  auto with = [&](const std::string& name) {
    auto o = recipe;
    o.push_back("run.name=" + name);
    return smoke(runs, o);
  };
  WholeAndResumed r;
  r.whole = std::make_unique<Trainer>(with("whole"), load_pack(pack_file()));
  EXPECT_EQ(r.whole->train(), Trainer::Outcome::finished);
  Trainer first(with("split"), load_pack(pack_file()), {"", "", stop_after});
  EXPECT_EQ(first.train(), Trainer::Outcome::stopped);
  EXPECT_EQ(first.state().step, stop_after);
  r.resumed = std::make_unique<Trainer>(with("split"), load_pack(pack_file()), TrainerOptions{"auto", ""});
  EXPECT_EQ(r.resumed->start_step(), stop_after);
  EXPECT_EQ(r.resumed->train(), Trainer::Outcome::finished);
  return r;
}

// The same recipe as command-line arguments of the trainer program.
inline std::string smoke_args(const std::filesystem::path& runs, const std::vector<std::string>& overrides) {
  std::string args = fmt::format("--config {} --set data.pack={} --set run.dir={}",
                                 (source_dir() / "configs/smoke.yaml").string(), pack_file().string(), runs.string());
  for (const auto& o : overrides) args += " --set " + o;
  return args;
}

// The metrics.jsonl lines of one kind ("train" or "eval"); a line still being written (not yet
// a whole JSON object) is left out.
inline std::vector<std::string> lines_of(const std::filesystem::path& file, const std::string& kind) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_discarded() && row.is_object() && row.value("kind", "") == kind) out.push_back(line);
  }
  return out;
}

// A number of a metrics line (NaN for null); a missing key fails the test.
inline double field(const std::string& line, const std::string& name) {
  auto row = nlohmann::json::parse(line);
  EXPECT_TRUE(row.contains(name)) << name << " in " << line;
  if (!row.contains(name) || row[name].is_null()) return std::nan("");
  return row[name].get<double>();
}

// A true/false entry of a metrics line.
inline bool flag(const std::string& line, const std::string& name) { return nlohmann::json::parse(line).at(name).get<bool>(); }

// A JSON file (run.json, reports), parsed.
inline nlohmann::json json_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

}  // namespace face::test
