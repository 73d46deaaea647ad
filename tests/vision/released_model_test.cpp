// The model released in models/ guards its own model card: through the normal `evaluate` path
// (raw LFW images aligned on the fly by the model's recipe, no --model: the released default), on
// LFW View 1's pairsDevTest.txt, it must score within 0.01 of the accuracy its card states.
// (View 1 only: View 2 is for the card's final report, never for checks that steer work.)
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>

#include "test_support.h"
#include "util/atomic_file.h"
#include "vision/model_catalog.h"

namespace {

// The card states the figure once, machine-readably: "<!-- lfw-view1-accuracy: 0.9xxx -->".
double card_view1_accuracy(const std::filesystem::path& card) {
  std::string text = face::read_file(card);
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"(<!-- lfw-view1-accuracy: ([0-9.]+) -->)"))) return -1;
  return std::stod(m[1]);
}

}  // namespace

TEST(ReleasedModel, LfwView1AccuracyMatchesItsModelCard) {
  FACE_REQUIRE_SHARED_DATA();
  auto model = face::test::source_dir() / face::kReleasedModelFile;
  auto card = face::test::source_dir() / "models/README.md";
  ASSERT_TRUE(std::filesystem::exists(model)) << model;
  ASSERT_TRUE(std::filesystem::exists(card)) << card;
  double stated = card_view1_accuracy(card);
  ASSERT_GT(stated, 0.5) << "no '<!-- lfw-view1-accuracy: X -->' line in " << card;

  face::test::TempDir out;
  auto lfw = face::test::shared_data() / "lfw";
  auto r = face::test::run_command(fmt::format("FACE_MODEL= {} --pairs {} --images {} --align --out {} --threads 2",
                                               face::test::tool("evaluate").string(),
                                               (lfw / "pairsDevTest.txt").string(),
                                               (lfw / "deepfunneled").string(), out.path.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  auto report = nlohmann::json::parse(face::read_file(out / "report.json"));
  EXPECT_EQ(report["model"]["fingerprint"].get<std::string>().empty(), false);
  double accuracy = report["metrics"]["accuracy_mean"].get<double>();
  RecordProperty("lfw_view1_accuracy", fmt::format("{:.4f}", accuracy));
  fmt::print("released model on LFW View 1: {:.4f} (model card: {:.4f})\n", accuracy, stated);
  EXPECT_NEAR(accuracy, stated, 0.01);
  EXPECT_EQ(report["pairs"]["scored"].get<int>(), 1000);
}
