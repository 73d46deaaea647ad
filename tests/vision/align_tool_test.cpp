// The `align` program end to end: a tree with every kind of bad file is processed to the end,
// each outcome is in the manifest and each bad file is named; resuming keeps outputs; exit
// status is non-zero only when nothing could be aligned or the output cannot be written.
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <fstream>

#include "test_support.h"
#include "vision/image_io.h"

namespace face {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

std::string encode(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> bytes;
  cv::imencode(ext, image, bytes);
  return std::string(bytes.begin(), bytes.end());
}

std::map<std::string, json> manifest_rows(const fs::path& file, json* header = nullptr) {
  std::map<std::string, json> rows;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    json row = json::parse(line);
    if (row.contains("manifest")) {
      if (header) *header = row;
    } else {
      rows[row["path"].get<std::string>()] = row;
    }
  }
  return rows;
}

// Every bad input of the issue, generated, plus faceless but valid images.
void write_bad_tree(const fs::path& root) {
  cv::Mat grey(120, 100, CV_8UC3, cv::Scalar(128, 128, 128));
  std::string jpeg = encode(grey, ".jpg");
  test::write_text(root / "good/plain.jpg", jpeg);
  test::write_text(root / "bad/zero.jpg", "");
  test::write_text(root / "bad/truncated.jpg", jpeg.substr(0, jpeg.size() / 2));
  test::write_text(root / "bad/text.png", "hello");
  test::write_text(root / "odd/gray.png", encode(cv::Mat(50, 50, CV_8UC1, cv::Scalar(90)), ".png"));
  test::write_text(root / "odd/rgba.png", encode(cv::Mat(50, 50, CV_8UC4, cv::Scalar(1, 2, 3, 4)), ".png"));
  test::write_text(root / "odd/deep.png", encode(cv::Mat(50, 50, CV_16UC3, cv::Scalar(1000, 2000, 3000)), ".png"));
  std::string bomb = encode(cv::Mat(8, 8, CV_8UC3, cv::Scalar(0, 0, 0)), ".png");
  bomb[17] = bomb[21] = '\x7f';  // IHDR claims ~8 million x 8 million pixels
  test::write_text(root / "bad/bomb.png", bomb);
  test::write_text(root / "Zoë_李/Zoë_李_0001.png", encode(grey, ".png"));
  fs::create_symlink(root / "nowhere.jpg", root / "bad/dangling.jpg");
}

TEST(AlignTool, BadInputIsRecordedNamedAndDoesNotStopTheRun) {
  test::TempDir in, out;
  write_bad_tree(in.path);
  auto r = test::run_command(test::tool("align").string() + " " + quoted(in.path) + " " + quoted(out.path) +
                             " --threads 1 --upsample 0");
  ASSERT_EQ(r.status, 0) << r.output;
  json header;
  auto rows = manifest_rows(out / "align_manifest.jsonl", &header);
  EXPECT_EQ(header["counts"]["fallback"], 5) << header.dump();
  EXPECT_EQ(header["counts"]["failed"], 4) << header.dump();
  EXPECT_NE(header["recipe"].get<std::string>().find("no-face=centre-crop"), std::string::npos);
  ASSERT_EQ(rows.size(), 9u);
  for (std::string bad : {"bad/zero.jpg", "bad/truncated.jpg", "bad/text.png", "bad/bomb.png"}) {
    EXPECT_EQ(rows[bad]["status"], "failed") << bad;
    EXPECT_FALSE(fs::exists(out / bad)) << bad;
    EXPECT_NE(r.output.find(bad), std::string::npos) << bad << " not named in:\n" << r.output;
  }
  EXPECT_NE(rows["bad/truncated.jpg"]["reason"].get<std::string>().find("truncated"), std::string::npos);
  EXPECT_NE(rows["bad/bomb.png"]["reason"].get<std::string>().find("exceeds the cap"), std::string::npos);
  EXPECT_NE(r.output.find("dangling.jpg"), std::string::npos) << r.output;
  for (std::string odd : {"odd/gray.png", "odd/rgba.png", "odd/deep.png"}) {
    EXPECT_EQ(rows[odd]["status"], "fallback") << odd;
    EXPECT_TRUE(rows[odd].contains("conversion")) << odd;
    EXPECT_NE(r.output.find(odd), std::string::npos) << odd << " conversion not named";
  }
  EXPECT_EQ(rows["good/plain.jpg"]["reason"], "no face detected");
  // Outputs mirror the tree, keep their names and are size x size.
  for (std::string kept : {"good/plain.jpg", "odd/deep.png", "Zoë_李/Zoë_李_0001.png"})
    EXPECT_EQ(read_rgb(out / kept).rgb.size(), cv::Size(96, 96)) << kept;

  // Resume: everything already there is kept, rows preserved.
  auto again = test::run_command(test::tool("align").string() + " " + quoted(in.path) + " " + quoted(out.path) +
                                 " --threads 1 --upsample 0");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("5 already aligned (kept)"), std::string::npos) << again.output;
  auto resumed = manifest_rows(out / "align_manifest.jsonl");
  EXPECT_EQ(resumed["odd/gray.png"]["status"], "fallback");
  EXPECT_EQ(resumed["odd/gray.png"]["conversion"], rows["odd/gray.png"]["conversion"]);

  // Another recipe into the same tree is refused unless --force.
  auto mixed = test::run_command(test::tool("align").string() + " " + quoted(in.path) + " " + quoted(out.path) +
                                 " --upsample 0 --size 64");
  EXPECT_EQ(mixed.status, 1) << mixed.output;
  EXPECT_NE(mixed.output.find("--force"), std::string::npos) << mixed.output;
  auto forced = test::run_command(test::tool("align").string() + " " + quoted(in.path) + " " + quoted(out.path) +
                                  " --upsample 0 --size 64 --force --format png");
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_EQ(read_rgb(out / "good/plain.png").rgb.size(), cv::Size(64, 64));
}

TEST(AlignTool, ExitStatusIsNonZeroOnlyWhenNothingIsProcessedOrWritable) {
  test::TempDir in, out;
  write_bad_tree(in.path);
  std::string align = test::tool("align").string() + " --upsample 0 --threads 1 ";
  // No face anywhere and --no-face skip: nothing aligned -> 1, yet the manifest is written.
  auto skipped = test::run_command(align + quoted(in.path) + " " + quoted(out / "a") + " --no-face skip");
  EXPECT_EQ(skipped.status, 1) << skipped.output;
  EXPECT_EQ(manifest_rows(out / "a/align_manifest.jsonl").size(), 9u);
  // Only bad files -> 1.
  auto bad = test::run_command(align + quoted(in / "bad") + " " + quoted(out / "b"));
  EXPECT_EQ(bad.status, 1) << bad.output;
  // No images at all -> 1.
  test::write_text(in / "empty/readme.txt", "x");
  EXPECT_EQ(test::run_command(align + quoted(in / "empty") + " " + quoted(out / "c")).status, 1);
  // Output folder cannot be created (a file is in the way) -> 1.
  test::write_text(out / "file", "x");
  auto blocked = test::run_command(align + quoted(in / "good") + " " + quoted(out / "file/sub"));
  EXPECT_EQ(blocked.status, 1) << blocked.output;
  EXPECT_NE(blocked.output.find("file/sub"), std::string::npos) << blocked.output;
  // The landmark model is missing -> 1, naming it.
  auto no_model = test::run_command(align + quoted(in / "good") + " " + quoted(out / "e") + " --predictor /nonexistent/sp.dat");
  EXPECT_EQ(no_model.status, 1) << no_model.output;
  EXPECT_NE(no_model.output.find("/nonexistent/sp.dat"), std::string::npos) << no_model.output;
  // A flat folder of good images -> 0.
  auto flat = test::run_command(align + quoted(in / "good") + "/ " + quoted(out / "d"));
  EXPECT_EQ(flat.status, 0) << flat.output;
  EXPECT_TRUE(fs::exists(out / "d/plain.jpg"));
}

TEST(AlignTool, AlignsRealLfwFacesAndRecordsLandmarks) {
  FACE_REQUIRE_SHARED_DATA();
  test::TempDir in, out;
  for (std::string name : {"Aaron_Eckhart", "Colin_Powell"}) {
    fs::create_directories(in / name);
    fs::copy_file(test::shared_data() / "lfw/deepfunneled" / name / (name + "_0001.jpg"), in / name / (name + "_0001.jpg"));
  }
  auto r = test::run_command(test::tool("align").string() + " " + quoted(in.path) + " " + quoted(out.path) + " --threads 2");
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = manifest_rows(out / "align_manifest.jsonl");
  for (const auto& [path, row] : rows) {
    EXPECT_EQ(row["status"], "aligned") << path;
    EXPECT_GT(row["score"].get<double>(), 0) << path;
    EXPECT_EQ(row["landmarks"].size(), 3u) << path;
    EXPECT_EQ(read_rgb(out / path).rgb.size(), cv::Size(96, 96));
  }
  EXPECT_EQ(rows.size(), 2u);
}

// `align --detector mmod` (dlib's CNN detector, its box mapped to HOG's geometry for the landmark
// model) finds the landmarks the HOG path finds, to within a few pixels, and records its recipe;
// on a photo where HOG finds no face it aligns where HOG falls back to the centre crop.
TEST(AlignTool, MmodDetectorAlignsRealLfwFacesWhereHogDoes) {
  FACE_REQUIRE_SHARED_DATA();
  const char* hog_miss = "Andy_Roddick/Andy_Roddick_0005.jpg";  // bench_detect: HOG finds no face here
  test::TempDir in, hog, mmod;
  std::vector<std::string> photos = {"Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Colin_Powell/Colin_Powell_0001.jpg",
                                     "Gloria_Macapagal_Arroyo/Gloria_Macapagal_Arroyo_0001.jpg", hog_miss};
  for (const auto& p : photos) {
    fs::create_directories((in / p).parent_path());
    fs::copy_file(test::shared_data() / "lfw/deepfunneled" / p, in / p);
  }
  for (auto [detector, out] : {std::pair{"hog", &hog}, std::pair{"mmod", &mmod}}) {
    auto r = test::run_command(test::tool("align").string() + " " + quoted(in.path) + " " + quoted(out->path) +
                               " --threads 2 --detector " + detector);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  json header;
  auto mmod_rows = manifest_rows(mmod / "align_manifest.jsonl", &header);
  auto hog_rows = manifest_rows(hog / "align_manifest.jsonl");
  EXPECT_EQ(header["recipe"].get<std::string>().rfind("dlib-mmod(upsample=1,pick=centre)+", 0), 0u) << header;
  ASSERT_EQ(mmod_rows.size(), photos.size());
  EXPECT_EQ(hog_rows[hog_miss]["status"], "fallback");
  EXPECT_EQ(mmod_rows[hog_miss]["status"], "aligned");
  for (const auto& p : photos) {
    if (p == hog_miss) continue;
    ASSERT_EQ(mmod_rows[p]["status"], "aligned") << p;
    ASSERT_EQ(hog_rows[p]["status"], "aligned") << p;
    const auto &a = mmod_rows[p]["landmarks"], &b = hog_rows[p]["landmarks"];
    for (size_t i = 0; i < 3; ++i) {
      double d = std::hypot(a[i][0].get<double>() - b[i][0].get<double>(), a[i][1].get<double>() - b[i][1].get<double>());
      EXPECT_LT(d, 3.0) << p << " landmark " << i;
    }
  }
}

}  // namespace
}  // namespace face
