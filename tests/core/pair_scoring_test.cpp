// From embeddings to scored pairs: image indexing, distances, folds (including the rule that a
// fold's threshold never comes from the fold itself), the pixel baseline, flip, the report text,
// and precomputed embedding tables.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "eval/embedding_pass.h"
#include "eval/embedding_table.h"
#include "eval/evaluation_report.h"
#include "eval/pair_scoring.h"
#include "eval/pixel_embedder.h"
#include "eval/verification_metrics.h"
#include "test_support.h"
#include "util/error.h"
#include "util/npy.h"

using namespace face;

namespace {
ImagePair pair(std::string a, std::string b, bool same, int fold = 0) { return {a, b, same, fold, 0}; }

// A deterministic embedder whose output depends on the image's left/right layout, so flipping
// changes it: the embedding is the mean of each half of the image (then normalised).
class HalvesEmbedder : public Embedder {
 public:
  int calls = 0;
  torch::Tensor embed(const torch::Tensor& images) override {
    ++calls;
    auto x = images.to(torch::kFloat32);
    auto left = x.slice(3, 0, x.size(3) / 2).mean({1, 2, 3}), right = x.slice(3, x.size(3) / 2).mean({1, 2, 3});
    return l2_normalise(torch::stack({left, right}, 1) + 1.0);
  }
  int64_t embedding_dim() const override { return 2; }
  std::string fingerprint() const override { return "halves"; }
  std::string description() const override { return "halves"; }
};
}  // namespace

TEST(PairScoring, EveryDistinctImageGetsOneRow) {
  std::vector<ImagePair> pairs = {pair("a", "b", true), pair("b", "c", false), pair("a", "c", false),
                                  pair("d", "d", true)};
  PairIndex index = index_pair_images(pairs);
  EXPECT_EQ(index.images, (std::vector<std::string>{"a", "b", "c", "d"}));
  ASSERT_EQ(index.rows.size(), 4u);
  EXPECT_EQ(index.rows[1], (std::array<int64_t, 2>{1, 2}));
  EXPECT_EQ(index.rows[2], (std::array<int64_t, 2>{0, 2}));
  EXPECT_EQ(index.rows[3], (std::array<int64_t, 2>{3, 3}));
}

TEST(PairScoring, SquaredL2IsTwiceCosineOnUnitVectors) {
  auto e = l2_normalise(torch::tensor({{1.0f, 0.0f}, {0.0f, 2.0f}, {-3.0f, 0.0f}, {1.0f, 1.0f}}));
  std::vector<std::array<int64_t, 2>> rows = {{0, 1}, {0, 2}, {0, 0}, {0, 3}};
  auto l2 = pair_distances(e, rows, DistanceKind::squared_l2);
  auto cos = pair_distances(e, rows, DistanceKind::cosine);
  std::vector<double> expected = {2.0, 4.0, 0.0, 2.0 - std::sqrt(2.0)};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_NEAR(l2[i], expected[i], 1e-6) << i;
    EXPECT_NEAR(cos[i], expected[i] / 2, 1e-6) << i;
  }
  EXPECT_EQ(parse_distance("l2"), DistanceKind::squared_l2);
  EXPECT_EQ(parse_distance("cosine"), DistanceKind::cosine);
  EXPECT_THROW(parse_distance("euclid"), Error);
}

TEST(PairScoring, FileFoldsAreKeptAndSingleFoldListsAreStratified) {
  std::vector<ImagePair> v2 = {pair("a", "b", true, 0), pair("a", "c", false, 0), pair("d", "e", true, 2),
                               pair("d", "f", false, 1)};
  EXPECT_EQ(scoring_folds(v2, 3, 10), (std::vector<int>{0, 0, 2, 1}));

  // 20 matched then 10 mismatched pairs, 5 folds: 4 matched and 2 mismatched in each.
  std::vector<ImagePair> v1;
  for (int i = 0; i < 20; ++i) v1.push_back(pair("x", "y", true));
  for (int i = 0; i < 10; ++i) v1.push_back(pair("x", "z", false));
  auto folds = scoring_folds(v1, 1, 5);
  std::vector<int> same(5, 0), diff(5, 0);
  for (size_t i = 0; i < v1.size(); ++i) (v1[i].same ? same : diff)[folds[i]]++;
  for (int f = 0; f < 5; ++f) {
    EXPECT_EQ(same[f], 4);
    EXPECT_EQ(diff[f], 2);
  }
  EXPECT_THROW(scoring_folds(v1, 1, 1), Error);
}

TEST(PairScoring, ExplicitFoldsNeverChooseAThresholdOnTheirOwnFold) {
  // Folds interleaved (pair i in fold i % 3). Fold 0 alone would be separated perfectly at 1.0,
  // the others at 0.3; fold 0 must get the others' threshold and so score 0.5.
  std::vector<double> d;
  std::vector<bool> same;
  std::vector<int> fold;
  for (int i = 0; i < 60; ++i) {
    int f = i % 3;
    bool s = (i / 3) % 2 == 0;
    d.push_back(f == 0 ? (s ? 0.8 : 1.2) : (s ? 0.2 : 0.4));
    same.push_back(s);
    fold.push_back(f);
  }
  auto m = verification_metrics(d, same, fold, {1e-2});
  ASSERT_EQ(m.folds.size(), 3u);
  EXPECT_NEAR(m.folds[0].accuracy, 0.5, 1e-12);
  EXPECT_LT(m.folds[0].threshold, 0.8);
  EXPECT_NEAR(m.folds[1].accuracy, 1.0, 1e-12);
  EXPECT_NEAR(m.folds[2].accuracy, 1.0, 1e-12);
  EXPECT_EQ(m.folds[0].pairs, 20);
  // The same data laid out as contiguous blocks gives the same folds through the other overload.
  EXPECT_EQ(contiguous_folds(7, 3), (std::vector<int>{0, 0, 0, 1, 1, 2, 2}));
  EXPECT_THROW(verification_metrics(d, same, std::vector<int>(60, 0)), Error);  // one fold
  std::vector<int> gap = fold;
  for (int& f : gap) f = f == 1 ? 2 : f;  // fold 1 empty
  EXPECT_THROW(verification_metrics(d, same, gap), Error);
}

TEST(PixelEmbedder, IsTheNormalisedPixelVector) {
  auto e = pixel_embedder();
  auto images = torch::randint(0, 256, {3, 3, 96, 96}, torch::kUInt8);
  auto out = e->embed(images);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 3 * 96 * 96}));
  EXPECT_EQ(e->embedding_dim(), 3 * 96 * 96);
  auto expected = images.to(torch::kFloat32).div(255).flatten(1);
  expected = expected / expected.norm(2, 1, true);
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-6));
  // Brightness scaling does not move a pixel embedding.
  auto dim = (images.to(torch::kFloat32) * 0.5).to(torch::kUInt8);
  auto d = pair_distances(torch::cat({e->embed(images.slice(0, 0, 1)), e->embed(dim.slice(0, 0, 1))}), {{0, 1}},
                          DistanceKind::squared_l2);
  EXPECT_LT(d[0], 1e-3);
  EXPECT_THROW(e->embed(torch::zeros({1, 3, 64, 64}, torch::kUInt8)), Error);
}

TEST(EmbeddingPass, BatchesAgreeAndFlipSumsTheMirror) {
  HalvesEmbedder e;
  auto images = torch::randint(0, 256, {5, 3, 8, 8}, torch::kUInt8);
  auto a = embed_images(e, images, {2, false});
  EXPECT_EQ(e.calls, 3);
  auto b = embed_images(e, images, {5, false});
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6));

  auto flipped = embed_images(e, images, {2, true});
  auto plain = e.embed(images), mirror = e.embed(images.flip({3}));
  auto expected = l2_normalise(plain + mirror);
  EXPECT_TRUE(torch::allclose(flipped, expected, 1e-6, 1e-6));
  // The mirror swaps the halves, so the flipped embedding is symmetric: both entries equal.
  EXPECT_TRUE(torch::allclose(flipped.select(1, 0), flipped.select(1, 1), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(plain, expected, 1e-3, 1e-3));
}

TEST(EmbeddingTable, LooksUpByExactNameOrPathSuffix) {
  test::TempDir dir;
  write_npy(dir / "e.npy", torch::tensor({{3.0f, 4.0f}, {0.0f, 1.0f}, {1.0f, 0.0f}}));
  test::write_text(dir / "e.txt", "/data/lfw/A/A_0001.jpg\nB/B_0001.jpg\nother/B/B_0001.jpg\n");
  EmbeddingTable t(dir / "e.npy", dir / "e.txt");
  EXPECT_EQ(t.row("A/A_0001.jpg"), 0);   // by suffix
  EXPECT_EQ(t.row("B/B_0001.jpg"), 1);   // exact wins over the suffix of row 2
  EXPECT_EQ(t.row("C/C_0001.jpg"), -1);
  EXPECT_EQ(t.renormalised(), 1);        // (3, 4) had length 5
  EXPECT_TRUE(torch::allclose(t.embeddings()[0], torch::tensor({0.6f, 0.8f})));
  EXPECT_THROW(t.row("B_0001.jpg"), Error);  // suffix of two names

  test::write_text(dir / "short.txt", "a\nb\n");
  try {
    EmbeddingTable bad(dir / "e.npy", dir / "short.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.txt"), std::string::npos) << e.what();
  }
}

TEST(EvaluationReport, JsonCsvAndSummaryCarryTheFigures) {
  std::vector<double> d = {0.1, 0.4, 0.6, 0.3, 0.5, 0.9, 0.2, 0.8};
  std::vector<bool> same = {true, true, true, false, false, false, true, false};
  auto m = verification_metrics(d, same, 2);
  EvaluationRecord r;
  r.model_kind = "pixel";
  r.model_description = "pixel \"baseline\"";
  r.model_fingerprint = "pixel";
  r.pairs_file = "p.csv";
  r.options = {{"flip", "false"}};
  r.missing = {"x/1.jpg"};
  r.timings = {{"embed", 1.5}, {"total", 2.0}};
  r.model_description += "\n\x01";  // quotes, a line break and a control character survive
  auto j = nlohmann::json::parse(evaluation_json(r, m));
  EXPECT_EQ(j["model"]["description"], "pixel \"baseline\"\n\x01");
  EXPECT_EQ(j["metrics"]["accuracy_mean"].get<double>(), m.accuracy_mean);
  EXPECT_EQ(j["images"]["missing"], 1);
  EXPECT_EQ(j["images"]["missing_examples"], nlohmann::json::array({"x/1.jpg"}));
  EXPECT_TRUE(j["run_info"].contains("commit"));
  ASSERT_EQ(j["folds"].size(), 2u);
  EXPECT_EQ(j["folds"][1]["fold"], 1);
  EXPECT_EQ(j["timings_s"]["embed"].get<double>(), 1.5);
  EXPECT_EQ(j["config"]["options"]["flip"], "false");

  EvaluationRecord r2 = r;
  r2.options = {{"flip", "true"}};
  EXPECT_NE(config_fingerprint(r), config_fingerprint(r2));

  std::string csv = roc_csv(m);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), static_cast<long>(m.roc.size() + 1));
  EXPECT_EQ(csv.rfind("threshold,far,tar\n", 0), 0u);

  std::string summary = evaluation_summary(r, m);
  EXPECT_NE(summary.find(fmt::format("{:.4f}", m.accuracy_mean)), std::string::npos) << summary;
  EXPECT_NE(summary.find("VAL@FAR=1e-3"), std::string::npos) << summary;
}
