// data/draw_weights.h: weights read by path into pack order, every malformed file refused naming
// the file and line, and draws that follow the weights.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/draw_weights.h"
#include "test_support.h"
#include "util/error.h"

using face::test::TempDir;

namespace {

const std::vector<std::string> kPaths = {"a/1.png", "a/2.png", "b/3.png"};

// The error's text when loading `text` as a weights file fails; "" when it loads.
std::string load_error(const TempDir& dir, const std::string& text) {
  auto file = dir / "weights.txt";
  face::test::write_text(file, text);
  try {
    face::load_draw_weights(file, kPaths);
  } catch (const face::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(DrawWeights, ReadsWeightsByPathIntoPackOrder) {
  TempDir dir;
  face::test::write_text(dir / "w.txt", "# faces of b are rare\n\nb/3.png 4\na/1.png 1   # a comment\na/2.png 0\n");
  auto w = face::load_draw_weights(dir / "w.txt", kPaths);
  ASSERT_EQ(w.numel(), 3);
  EXPECT_FLOAT_EQ(w[0].item<float>(), 1);
  EXPECT_FLOAT_EQ(w[1].item<float>(), 0);
  EXPECT_FLOAT_EQ(w[2].item<float>(), 4);
}

TEST(DrawWeights, RefusesBadFilesNamingTheFileAndLine) {
  TempDir dir;
  const std::string rest = "a/2.png 1\nb/3.png 1\n";
  auto expect = [&](const std::string& text, const std::string& says) {
    auto error = load_error(dir, text);
    EXPECT_NE(error.find("weights.txt"), std::string::npos) << error;
    EXPECT_NE(error.find(says), std::string::npos) << "'" << error << "' should say '" << says << "'";
  };
  expect("a/1.png\n" + rest, "line 1: expected");
  expect("a/1.png 1 2\n" + rest, "line 1: expected");
  expect("a/1.png -1\n" + rest, "line 1: weight -1");
  expect("a/1.png nan\n" + rest, "line 1:");  // NaN: unreadable or not finite, either way refused
  expect(rest + "c/9.png 1\n", "line 3: 'c/9.png' is not in the pack");
  expect("a/1.png 1\n" + rest + "a/1.png 2\n", "line 4: 'a/1.png' is listed twice");
  expect(rest, "'a/1.png' has no weight");
  expect("a/1.png 0\na/2.png 0\nb/3.png 0\n", "every weight is 0");
  EXPECT_THROW(face::load_draw_weights(dir / "missing.txt", kPaths), face::Error);
}

TEST(DrawWeights, DrawsFollowTheWeights) {
  torch::manual_seed(0);
  auto only_third = face::draw_weighted(torch::tensor({0.0f, 0.0f, 2.0f, 0.0f}), 500);
  EXPECT_TRUE(only_third.eq(2).all().item<bool>());
  auto draws = face::draw_weighted(torch::tensor({1.0f, 3.0f}), 8000);
  ASSERT_EQ(draws.numel(), 8000);
  double share = draws.eq(1).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(share, 0.75, 0.02);  // 3 sd of the binomial share is 0.015
  // The run's seed fixes the draws (resumes and reruns repeat them).
  torch::manual_seed(7);
  auto first = face::draw_weighted(torch::tensor({1.0f, 1.0f, 1.0f}), 50);
  torch::manual_seed(7);
  EXPECT_TRUE(first.equal(face::draw_weighted(torch::tensor({1.0f, 1.0f, 1.0f}), 50)));
}

// tools/unlabelled_weights.py writes what load_draw_weights reads: paths relative to the tree, as
// `pack` records them, each of UTKFace's groups drawn equally, an unparsed name like the largest group.
TEST(DrawWeights, UtkfaceBalancingToolWritesBalancedWeightsTheTrainerReads) {
  TempDir dir;
  const std::vector<std::string> faces = {"unlabelled/30_0_0_a.jpg", "unlabelled/31_1_0_b.jpg",
                                          "unlabelled/32_0_0_c.jpg", "unlabelled/40_1_1_d.jpg",
                                          "unlabelled/50_0_odd.jpg"};
  std::filesystem::create_directories(dir / "tree/unlabelled");
  for (const auto& f : faces) face::test::write_text(dir / "tree" / f, "");
  auto out = dir / "w.txt";
  const auto command = fmt::format("python3 {} {} --out {}",
                                   (face::test::source_dir() / "tools/unlabelled_weights.py").string(),
                                   (dir / "tree").string(), out.string());
  auto r = face::test::run_command(command);
  ASSERT_EQ(r.status, 0) << r.output;
  auto w = face::load_draw_weights(out, faces);
  const float white = w[0].item<float>(), black = w[3].item<float>();
  EXPECT_FLOAT_EQ(w[1].item<float>(), white);
  EXPECT_FLOAT_EQ(w[2].item<float>(), white);
  EXPECT_NEAR(black, 3 * white, 1e-5 * black);  // one Black face against three White ones: one share each (6 digits written)
  EXPECT_FLOAT_EQ(w[4].item<float>(), white);  // no group in its name: drawn like the largest group's faces
  // An existing file is not overwritten: a second run stops instead.
  EXPECT_NE(face::test::run_command(command).status, 0);
}
