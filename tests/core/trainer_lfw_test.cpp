// LFW View 1 inside the trainer (evaluation.lfw_pack + evaluation.lfw_pairs): scored at every
// evaluation, selecting best.pt when asked, with its inputs checked before any step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>

#include "eval/embedding_pass.h"
#include "eval/pair_list.h"
#include "eval/pair_scoring.h"
#include "eval/verification_metrics.h"
#include "model/embedder.h"
#include "test_support.h"
#include "train/trainer.h"
#include "trainer_fixture.h"
#include "util/error.h"

namespace fs = std::filesystem;
using face::test::TempDir;
using face::test::field;
using face::test::lines_of;
using face::test::smoke;
using face::test::write_text;

namespace {

std::string person(int64_t id) { return fmt::format("Lfw_Person_{:02d}", id); }

// A small LFW-like pack: 10 identities x 4 images named as an aligned LFW tree would be, but as
// PNGs ("Name/Name_0001.png"; the pair list names ".jpg"). `drop`: leave out this image.
fs::path lfw_pack(const fs::path& dir, const std::string& drop = "") {
  face::Pack full = face::test::synthetic_pack(10, 4, 11), pack;
  std::vector<int64_t> keep, labels;
  for (int64_t i = 0; i < full.size(); ++i) {
    int64_t id = i / 4;
    auto path = fmt::format("{}/{}_{:04d}.png", person(id), person(id), i % 4 + 1);
    if (path == drop) continue;
    keep.push_back(i);
    labels.push_back(id);
    pack.paths.push_back(path);
  }
  for (int64_t id = 0; id < 10; ++id) pack.identities.push_back(person(id));
  pack.images = full.images.index_select(0, torch::tensor(keep, torch::kLong));
  pack.labels = torch::tensor(labels, torch::kLong);
  pack.source_fingerprint = "synthetic-lfw";
  auto file = dir / (drop.empty() ? "lfw.pack" : "lfw-incomplete.pack");
  face::save_pack(file, pack);
  return file;
}

// View 1 layout: "20", 20 matched pairs, 20 mismatched ones.
fs::path view1_pairs(const fs::path& dir) {
  std::string text = "20\n";
  for (int i = 0; i < 20; ++i) text += fmt::format("{}\t{}\t{}\n", person(i % 10), i < 10 ? 1 : 3, i < 10 ? 2 : 4);
  for (int i = 0; i < 20; ++i)
    text += fmt::format("{}\t{}\t{}\t{}\n", person(i % 10), i / 10 + 1, person((i + 1 + i / 10) % 10), i / 10 + 3);
  write_text(dir / "pairsDevTest.txt", text);
  return dir / "pairsDevTest.txt";
}

// Checks that every evaluation line's `key` is a share in [0, 1], is the line's `score` (what
// evaluation.select_by keeps best.pt by) and marks `best` exactly when it beats every earlier
// line; returns the line that last rewrote best.pt.
std::string check_selection(const std::vector<std::string>& eval, const std::string& key) {
  double best = -1;
  std::string best_line;
  for (const auto& line : eval) {
    double value = field(line, key);
    EXPECT_GE(value, 0.0) << line;
    EXPECT_LE(value, 1.0) << line;
    EXPECT_EQ(field(line, "score"), value) << "select_by on " << key << ": " << line;
    EXPECT_EQ(face::test::flag(line, "best"), value > best) << line;
    if (value > best) best = value, best_line = line;
  }
  return best_line;
}

}  // namespace

TEST(TrainerLfwView1, ScoresEveryEvaluationAndKeepsBestByIt) {
  TempDir runs;
  auto pack = lfw_pack(runs.path), pairs = view1_pairs(runs.path);
  auto config = smoke(runs.path, {"run.name=v1", "length.steps=4", "evaluation.every_steps=2",
                                  "evaluation.at_start=true", "checkpoint.every_steps=0",
                                  "evaluation.precise_bn_batches=2",
                                  "evaluation.lfw_pack=" + pack.string(), "evaluation.lfw_pairs=" + pairs.string(),
                                  "evaluation.select_by=lfw_view1"});
  face::Trainer trainer(config, face::load_pack(face::test::pack_file()));
  ASSERT_TRUE(trainer.has_lfw_view1());
  ASSERT_EQ(trainer.train(), face::Trainer::Outcome::finished);

  auto eval = lines_of(runs.path / "v1/metrics.jsonl", "eval");
  ASSERT_EQ(eval.size(), 3u);  // steps 0, 2, 4
  const std::string best_line = check_selection(eval, "lfw_view1_accuracy");
  EXPECT_NEAR(trainer.state().best_score, field(best_line, "lfw_view1_accuracy"), 1e-9);
  for (const auto& line : eval) {
    EXPECT_GT(field(line, "lfw_view1_auc"), 0.0) << line;
    EXPECT_EQ(field(line, "lfw_view1_pairs"), 40) << line;
    EXPECT_GE(field(line, "validation_accuracy"), 0.0) << "validation is still reported: " << line;
  }

  // best.pt scored independently, as `evaluate` would: the same View 1 accuracy and AUC.
  auto embedder = face::load_embedder(runs.path / "v1/best.pt", torch::kCPU);
  auto list = face::read_pair_list(pairs);
  auto index = face::index_pair_images(list.pairs);
  face::Pack lfw = face::load_pack(pack);
  std::vector<int64_t> rows;
  for (const auto& image : index.images) {
    auto png = fs::path(image).replace_extension(".png").generic_string();
    rows.push_back(std::find(lfw.paths.begin(), lfw.paths.end(), png) - lfw.paths.begin());
  }
  auto embeddings = face::embed_images(*embedder, lfw.images.index_select(0, torch::tensor(rows)), {});
  auto distances = face::pair_distances(embeddings, index.rows, face::DistanceKind::squared_l2);
  std::vector<bool> same;
  for (const auto& p : list.pairs) same.push_back(p.same);
  auto m = face::verification_metrics(distances, same, face::scoring_folds(list.pairs, list.folds, 10));
  EXPECT_NEAR(m.accuracy_mean, field(best_line, "lfw_view1_accuracy"), 1e-6) << best_line;
  EXPECT_NEAR(m.auc, field(best_line, "lfw_view1_auc"), 1e-6) << best_line;
}

// evaluation.select_by: lfw_view1_val. 50 people x 4 images, all named by the list, make 19,600
// pairs of different people: enough for a threshold at FAR 1e-3 (19.6 false accepts).
TEST(TrainerLfwView1, StrictValIsTakenOverEveryImpostorPairAndCanSelect) {
  TempDir runs;
  face::Pack full = face::test::synthetic_pack(50, 4, 5), pack;
  pack = full;
  pack.paths.clear();
  pack.identities.clear();
  std::string list = "100\n", mismatched;
  for (int64_t id = 0; id < 50; ++id) {
    pack.identities.push_back(person(id));
    for (int i = 1; i <= 4; ++i) pack.paths.push_back(fmt::format("{}/{}_{:04d}.png", person(id), person(id), i));
    list += fmt::format("{}\t1\t2\n{}\t3\t4\n", person(id), person(id));
    mismatched += fmt::format("{}\t1\t{}\t1\n{}\t2\t{}\t3\n", person(id), person((id + 1) % 50), person(id),
                              person((id + 7) % 50));
  }
  pack.labels = full.labels;
  face::save_pack(runs.path / "lfw50.pack", pack);
  write_text(runs.path / "pairs50.txt", list + mismatched);
  auto config = smoke(runs.path, {"run.name=strict", "length.steps=4", "evaluation.every_steps=2",
                                  "evaluation.at_start=true", "checkpoint.every_steps=0",
                                  "evaluation.lfw_pack=" + (runs.path / "lfw50.pack").string(),
                                  "evaluation.lfw_pairs=" + (runs.path / "pairs50.txt").string(),
                                  "evaluation.select_by=lfw_view1_val"});
  face::Trainer trainer(config, face::load_pack(face::test::pack_file()));
  ASSERT_EQ(trainer.train(), face::Trainer::Outcome::finished);
  auto eval = lines_of(runs.path / "strict/metrics.jsonl", "eval");
  ASSERT_EQ(eval.size(), 3u);
  const std::string best_line = check_selection(eval, "lfw_view1_val");
  const double best = field(best_line, "lfw_view1_val");
  EXPECT_NEAR(trainer.state().best_score, best, 1e-9);
  EXPECT_GT(best, 0.0) << "the synthetic people are told apart: a figure stuck at 0 would test nothing";

  // best.pt scored by brute force: every pair of different people's distance, sorted; the
  // threshold is the floor(1e-3 * N)-th; a matched pair counts when strictly below it.
  auto embedder = face::load_embedder(runs.path / "strict/best.pt", torch::kCPU);
  auto e = face::embed_images(*embedder, pack.images, {});  // rows in pack order: 4 per person
  auto d = torch::cdist(e.to(torch::kDouble), e.to(torch::kDouble)).pow(2);
  std::vector<double> impostor;
  for (int64_t i = 0; i < 200; ++i)
    for (int64_t j = i + 1; j < 200; ++j)
      if (i / 4 != j / 4) impostor.push_back(d[i][j].item<double>());
  ASSERT_EQ(impostor.size(), 19600u);
  std::sort(impostor.begin(), impostor.end());
  const double threshold = impostor[static_cast<size_t>(1e-3 * 19600)];
  int accepted = 0;
  for (int64_t id = 0; id < 50; ++id)
    accepted += (d[4 * id][4 * id + 1].item<double>() < threshold) + (d[4 * id + 2][4 * id + 3].item<double>() < threshold);
  EXPECT_NEAR(field(best_line, "lfw_view1_val"), accepted / 100.0, 1e-9) << best_line;
}

TEST(TrainerLfwView1, StrictSelectionOnTooFewImpostorPairsIsRefusedBeforeAnyWork) {
  TempDir runs;
  auto pack = lfw_pack(runs.path), pairs = view1_pairs(runs.path);  // 40 images: 720 pairs of different people
  auto config = smoke(runs.path, {"run.name=few", "evaluation.lfw_pack=" + pack.string(),
                                  "evaluation.lfw_pairs=" + pairs.string(), "evaluation.select_by=lfw_view1_val"});
  try {
    face::Trainer trainer(config, face::load_pack(face::test::pack_file()));
    FAIL() << "a threshold at FAR 1e-3 over 720 impostor pairs was accepted";
  } catch (const face::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(pairs.string()), std::string::npos) << what;
    EXPECT_NE(what.find("720 pairs"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(runs.path / "few")) << "refused before the run directory is made";
}

TEST(TrainerLfwView1, MissingImageIsNamedBeforeAnyWork) {
  TempDir runs;
  auto pack = lfw_pack(runs.path, "Lfw_Person_03/Lfw_Person_03_0004.png"), pairs = view1_pairs(runs.path);
  auto config = smoke(runs.path, {"run.name=missing", "evaluation.lfw_pack=" + pack.string(),
                                  "evaluation.lfw_pairs=" + pairs.string()});
  try {
    face::Trainer trainer(config, face::load_pack(face::test::pack_file()));
    FAIL() << "a pack without an image of the pair list was accepted";
  } catch (const face::Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("Lfw_Person_03/Lfw_Person_03_0004.jpg"), std::string::npos) << message;
    EXPECT_NE(message.find("line 15"), std::string::npos) << message;  // first pair naming it
    EXPECT_NE(message.find("lfw-incomplete.pack"), std::string::npos) << message;
    EXPECT_NE(message.find("lacks 1 of the"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(runs.path / "missing")) << "the run directory was created before the check";
}

TEST(TrainerLfwView1, ViewTwoListIsRefusedForModelSelection) {
  TempDir runs;
  auto pack = lfw_pack(runs.path);
  // View 2's layout (folds x (matched + mismatched)), two small folds.
  std::string text = "2\t2\n";
  for (int fold = 0; fold < 2; ++fold) {
    for (int i = 0; i < 2; ++i) text += fmt::format("{}\t1\t2\n", person(fold * 2 + i));
    for (int i = 0; i < 2; ++i) text += fmt::format("{}\t1\t{}\t1\n", person(fold * 2 + i), person(9 - i));
  }
  write_text(runs.path / "pairs.txt", text);
  auto config = smoke(runs.path, {"run.name=v2", "evaluation.lfw_pack=" + pack.string(),
                                  "evaluation.lfw_pairs=" + (runs.path / "pairs.txt").string()});
  try {
    face::Trainer trainer(config, face::load_pack(face::test::pack_file()));
    FAIL() << "a View 2 list was accepted for evaluation during training";
  } catch (const face::Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("View 2"), std::string::npos) << message;
    EXPECT_NE(message.find("final reports"), std::string::npos) << message;
    EXPECT_NE(message.find("pairs.txt"), std::string::npos) << message;
  }
}

// The real View 1 and View 2 files: pairsDevTest.txt resolves against a pack of its images
// (tiny synthetic pixels, nothing decoded), pairs.txt is refused.
TEST(TrainerLfwView1, RealPairsDevTestResolvesAndRealPairsTxtIsRefused) {
  FACE_REQUIRE_SHARED_DATA();
  TempDir runs;
  auto lfw = face::test::shared_data() / "lfw";
  auto index = face::index_pair_images(face::read_pair_list(lfw / "pairsDevTest.txt").pairs);
  face::Pack pack;
  pack.images = torch::zeros({static_cast<int64_t>(index.images.size()), 3, 8, 8}, torch::kUInt8);
  pack.labels = torch::zeros({static_cast<int64_t>(index.images.size())}, torch::kLong);
  pack.identities = {"any"};
  pack.paths = index.images;
  pack.source_fingerprint = "names-only";
  face::save_pack(runs.path / "lfw.pack", pack);
  auto with = [&](const std::string& name, const std::string& pairs) {
    return smoke(runs.path, {"run.name=" + name, "evaluation.lfw_pack=" + (runs.path / "lfw.pack").string(),
                             "evaluation.lfw_pairs=" + (lfw / pairs).string()});
  };
  face::Trainer trainer(with("dev", "pairsDevTest.txt"), face::load_pack(face::test::pack_file()));
  EXPECT_TRUE(trainer.has_lfw_view1());
  EXPECT_GT(index.images.size(), 1000u);
  EXPECT_THROW(face::Trainer(with("view2", "pairs.txt"), face::load_pack(face::test::pack_file())), face::Error);
}
