// The embed program end to end: good images are embedded, bad ones are named and skipped.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "test_support.h"
#include "util/atomic_file.h"
#include "util/npy.h"

using namespace face;

namespace {
void write_random_image(const std::filesystem::path& p, int w, int h) {
  std::filesystem::create_directories(p.parent_path());
  cv::Mat m(h, w, CV_8UC3);
  cv::randu(m, 0, 255);
  ASSERT_TRUE(cv::imwrite(p.string(), m));
}
int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }
}  // namespace

TEST(EmbedTool, EmbedsGoodImagesAndNamesEveryBadOne) {
  test::TempDir dir;
  write_random_image(dir / "imgs/alice/1.jpg", 96, 96);
  write_random_image(dir / "imgs/alice/2.png", 120, 150);  // resized
  write_random_image(dir / "imgs/bob/1.jpg", 250, 250);
  test::write_text(dir / "imgs/bob/empty.jpg", "");
  test::write_text(dir / "imgs/bob/text.jpg", "this is not a jpeg");
  std::filesystem::create_symlink(dir / "nowhere.jpg", dir / "imgs/bob/dangling.jpg");

  auto r = test::run_command(fmt::format("{} {} --out {} --threads 1 --model random", test::tool("embed").string(),
                                         (dir / "imgs").string(), (dir / "e.npy").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("RANDOMLY INITIALISED"), std::string::npos);
  for (auto bad : {"empty.jpg", "text.jpg", "dangling.jpg"})
    EXPECT_NE(r.output.find(bad), std::string::npos) << bad << " not named in:\n" << r.output;
  auto m = read_npy(dir / "e.npy");
  EXPECT_EQ(m.size(0), 3);
  EXPECT_EQ(m.size(1), 128);
  EXPECT_TRUE(torch::allclose(m.norm(2, 1), torch::ones({3}), 1e-5, 1e-5));
  auto names = read_file(dir / "e.txt");
  EXPECT_EQ(count_lines(names), 3);
  EXPECT_NE(names.find("alice/2.png"), std::string::npos);
}

TEST(EmbedTool, SameImagesGiveSameEmbeddingsAcrossBatchSizes) {
  test::TempDir dir;
  for (int i = 0; i < 5; ++i) write_random_image(dir / fmt::format("imgs/{}.png", i), 96, 96);
  std::string base = fmt::format("{} {} --threads 1 --model random --seed 4", test::tool("embed").string(), (dir / "imgs").string());
  ASSERT_EQ(test::run_command(base + " --batch 2 --out " + (dir / "a.npy").string()).status, 0);
  ASSERT_EQ(test::run_command(base + " --batch 5 --out " + (dir / "b.npy").string()).status, 0);
  EXPECT_TRUE(torch::allclose(read_npy(dir / "a.npy"), read_npy(dir / "b.npy"), 1e-5, 1e-5));
}

TEST(EmbedTool, MissingInputOrNothingEmbeddableFails) {
  test::TempDir dir;
  auto missing = test::run_command(fmt::format("{} {} --out {} --model random", test::tool("embed").string(),
                                               (dir / "absent").string(), (dir / "e.npy").string()));
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("absent"), std::string::npos) << missing.output;

  test::write_text(dir / "bad/x.jpg", "junk");
  auto bad = test::run_command(fmt::format("{} {} --out {} --model random", test::tool("embed").string(),
                                           (dir / "bad").string(), (dir / "e.npy").string()));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("x.jpg"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "e.npy"));
}
