// The pair-list parser on all three formats, on the real LFW lists, and on malformed files.
#include <gtest/gtest.h>

#include <set>

#include "eval/pair_list.h"
#include "test_support.h"
#include "util/error.h"
#include "util/hash.h"

using namespace face;

namespace {
// The error message for parsing `text`, or "" when it parses.
std::string parse_error(const test::TempDir& dir, const std::string& text) {
  test::write_text(dir / "p.txt", text);
  try {
    read_pair_list(dir / "p.txt");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(PairList, LfwImagePathPadsTheNumber) {
  EXPECT_EQ(lfw_image_path("Aaron_Peirsol", 1), "Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
  EXPECT_EQ(lfw_image_path("George_W_Bush", 530), "George_W_Bush/George_W_Bush_0530.jpg");
}

TEST(PairList, View2AssignsFoldsByPosition) {
  test::TempDir dir;
  // 2 folds x (2 matched + 2 mismatched), with CRLF ends and a trailing blank line.
  test::write_text(dir / "pairs.txt",
                   "2\t2\r\nA\t1\t2\r\nB\t3\t4\r\nA\t1\tC\t2\r\nB\t1\tD\t10\r\n"
                   "E\t1\t2\nF\t1\t2\nE\t1\tG\t1\nF\t2\tH\t3\n\n");
  PairList l = read_pair_list(dir / "pairs.txt");
  EXPECT_EQ(l.format, "lfw-view2");
  EXPECT_EQ(l.folds, 2);
  EXPECT_EQ(l.checksum, file_fingerprint(dir / "pairs.txt"));
  ASSERT_EQ(l.pairs.size(), 8u);
  EXPECT_EQ(l.pairs[0].first, "A/A_0001.jpg");
  EXPECT_EQ(l.pairs[0].second, "A/A_0002.jpg");
  EXPECT_TRUE(l.pairs[0].same);
  EXPECT_EQ(l.pairs[0].line, 2);
  EXPECT_EQ(l.pairs[3].first, "B/B_0001.jpg");
  EXPECT_EQ(l.pairs[3].second, "D/D_0010.jpg");
  EXPECT_FALSE(l.pairs[3].same);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(l.pairs[i].fold, i / 4) << i;
    EXPECT_EQ(l.pairs[i].same, i % 4 < 2) << i;
  }
  EXPECT_EQ(l.pairs[7].line, 9);
}

TEST(PairList, View1IsMatchedThenMismatchedInOneFold) {
  test::TempDir dir;
  test::write_text(dir / "dev.txt", "2\nA\t1\t2\nB\t3\t4\nA\t1\tC\t2\nB\t1\tD\t1\n");
  PairList l = read_pair_list(dir / "dev.txt");
  EXPECT_EQ(l.format, "lfw-view1");
  EXPECT_EQ(l.folds, 1);
  ASSERT_EQ(l.pairs.size(), 4u);
  EXPECT_TRUE(l.pairs[1].same);
  EXPECT_FALSE(l.pairs[2].same);
  for (const auto& p : l.pairs) EXPECT_EQ(p.fold, 0);
}

TEST(PairList, CsvWithAndWithoutColumnNames) {
  test::TempDir dir;
  test::write_text(dir / "a.csv", "path1,path2,same\nx/1.jpg, y/2.png ,1\nx/1.jpg,z.jpg,false\nq.jpg,r.jpg,Yes\n");
  PairList l = read_pair_list(dir / "a.csv");
  EXPECT_EQ(l.format, "csv");
  EXPECT_EQ(l.folds, 1);
  ASSERT_EQ(l.pairs.size(), 3u);
  EXPECT_EQ(l.pairs[0].second, "y/2.png");
  EXPECT_TRUE(l.pairs[0].same);
  EXPECT_FALSE(l.pairs[1].same);
  EXPECT_TRUE(l.pairs[2].same);
  EXPECT_EQ(l.pairs[0].line, 2);

  test::write_text(dir / "b.csv", "a.jpg,b.jpg,0\n");
  PairList b = read_pair_list(dir / "b.csv");
  ASSERT_EQ(b.pairs.size(), 1u);
  EXPECT_FALSE(b.pairs[0].same);
}

TEST(PairList, MalformedFilesNameFileAndLine) {
  test::TempDir dir;
  std::string file = (dir / "p.txt").string();
  struct Case {
    std::string text, where, says;
  };
  std::vector<Case> cases = {
      {"", file, "empty"},
      {"hello world\n", file + ":1", "unrecognised"},
      {"1\t1\nA\t1\t2\nA\t1\tB\n", file + ":3", "mismatched"},          // 3 fields where 4 belong
      {"1\t1\nA\t1\tB\t2\nA\t1\tB\t2\n", file + ":2", "matched"},        // 4 fields where 3 belong
      {"1\nA\tx\t2\nA\t1\tB\t2\n", file + ":2", "'x'"},                 // not a number
      {"1\nA\t0\t2\nA\t1\tB\t2\n", file + ":2", "'0'"},                 // LFW counts from 1
      {"2\t1\nA\t1\t2\nA\t1\tB\t2\n", file + ":4", "promises 4"},        // too few
      {"1\nA\t1\t2\nA\t1\tB\t2\n\nC\t1\t2\n", file + ":5", "more pairs"},  // too many
      {"0\t300\n", file + ":1", "positive"},
      {"a,b,1\nc,d\n", file + ":2", "2 comma-separated"},
      {"a,b,1\nc,d,maybe\n", file + ":2", "'maybe'"},
      {"a,b,1\n,d,1\n", file + ":2", "empty"},
      {"path1,path2,same\n", file, "no pairs"},
  };
  for (const auto& c : cases) {
    std::string e = parse_error(dir, c.text);
    EXPECT_NE(e.find(c.where), std::string::npos) << "for:\n" << c.text << "\ngot: " << e;
    EXPECT_NE(e.find(c.says), std::string::npos) << "for:\n" << c.text << "\ngot: " << e;
  }
  try {
    read_pair_list(dir / "absent.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.txt"), std::string::npos);
  }
}

TEST(PairList, RealLfwLists) {
  FACE_REQUIRE_SHARED_DATA();
  auto lfw = test::shared_data() / "lfw";
  PairList v2 = read_pair_list(lfw / "pairs.txt");
  EXPECT_EQ(v2.format, "lfw-view2");
  EXPECT_EQ(v2.folds, 10);
  ASSERT_EQ(v2.pairs.size(), 6000u);
  std::vector<int> per_fold(10, 0), same_per_fold(10, 0);
  for (const auto& p : v2.pairs) per_fold[p.fold]++, same_per_fold[p.fold] += p.same;
  for (int f = 0; f < 10; ++f) {
    EXPECT_EQ(per_fold[f], 600);
    EXPECT_EQ(same_per_fold[f], 300);
  }
  EXPECT_EQ(v2.pairs[0].first, "Abel_Pacheco/Abel_Pacheco_0001.jpg");
  EXPECT_EQ(v2.pairs[0].second, "Abel_Pacheco/Abel_Pacheco_0004.jpg");
  for (const auto& p : {v2.pairs.front(), v2.pairs.back()}) {
    EXPECT_TRUE(std::filesystem::exists(lfw / "deepfunneled" / p.first)) << p.first;
    EXPECT_TRUE(std::filesystem::exists(lfw / "deepfunneled" / p.second)) << p.second;
  }
  for (auto name : {"pairsDevTrain.txt", "pairsDevTest.txt"}) {
    PairList v1 = read_pair_list(lfw / name);
    EXPECT_EQ(v1.format, "lfw-view1");
    EXPECT_EQ(v1.pairs.size(), std::string(name) == "pairsDevTrain.txt" ? 2200u : 1000u);
  }
}
