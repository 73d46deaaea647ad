// What every tool does with options a hostile user tries: resources beyond reason, NaN and
// infinite numbers, files they did not hand over for writing, the input as its own output. Each
// is refused up front, naming the option or the file, and leaves every file as it was.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "test_support.h"
#include "util/atomic_file.h"

namespace {

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

std::string run_tool(const std::string& name, const std::string& args) {
  return fmt::format("{} {}", face::test::tool(name).string(), args);
}

void write_face_png(const std::filesystem::path& p, int size = 96) {
  std::filesystem::create_directories(p.parent_path());
  cv::Mat m(size, size, CV_8UC3);
  cv::randu(m, 0, 255);
  ASSERT_TRUE(cv::imwrite(p.string(), m));
}

}  // namespace

TEST(ToolOptions, ThreadCountsBeyondReasonAreRefusedWithExit2) {
  face::test::TempDir dir;
  write_face_png(dir / "a/1.png");
  struct Case {
    std::string tool, args;
  } cases[] = {
      {"embed", fmt::format("{} --out {} --model random --threads 100000", q(dir / "a"), q(dir / "e.npy"))},
      {"align", fmt::format("{} {} --threads 100000", q(dir / "a"), q(dir / "out"))},
      {"pack", fmt::format("{} {} --threads 100000", q(dir.path), q(dir / "p.pack"))},
      {"evaluate", fmt::format("--pairs x --images {} --model pixel --threads 100000", q(dir.path))},
      {"verify", fmt::format("{} {} --threads 100000", q(dir / "a/1.png"), q(dir / "a/1.png"))},
      {"export", fmt::format("--untrained nn4.small2 --out {} --threshold 1 --threads 100000", q(dir / "m.pt"))},
      {"teacher_targets", fmt::format("{} --threads 100000", q(dir / "p.pack"))},
  };
  for (const auto& c : cases) {
    auto r = face::test::run_command(run_tool(c.tool, c.args));
    EXPECT_EQ(r.status, 2) << c.tool << ": " << r.output;
    EXPECT_NE(r.output.find("--threads"), std::string::npos) << c.tool << ": " << r.output;
    EXPECT_LT(r.output.size(), 400u) << c.tool << ": one line, not a wall of text: " << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "e.npy"));
  EXPECT_FALSE(std::filesystem::exists(dir / "m.pt"));
}

TEST(ToolOptions, NonFiniteAndOutOfRangeNumbersAreRefusedByName) {
  face::test::TempDir dir;
  write_face_png(dir / "a/1.png");
  struct Case {
    std::string tool, args, option;
  } cases[] = {
      {"verify", fmt::format("{} {} --threshold nan", q(dir / "a/1.png"), q(dir / "a/1.png")), "--threshold"},
      {"verify", fmt::format("{} {} --threshold inf", q(dir / "a/1.png"), q(dir / "a/1.png")), "--threshold"},
      {"verify", fmt::format("{} {} --threshold -1", q(dir / "a/1.png"), q(dir / "a/1.png")), "--threshold"},
      {"evaluate", fmt::format("--pairs x --images {} --model pixel --far nan", q(dir.path)), "--far"},
      {"evaluate", fmt::format("--pairs x --images {} --model pixel --far 2", q(dir.path)), "--far"},
      {"evaluate", fmt::format("--pairs x --images {} --model pixel --centre-crop inf", q(dir.path)), "--centre-crop"},
      {"evaluate", fmt::format("--pairs x --images {} --model pixel --batch 0", q(dir.path)), "--batch"},
      {"evaluate", fmt::format("--pairs x --images {} --model pixel --folds 100000", q(dir.path)), "--folds"},
      {"export", fmt::format("--untrained nn4.small2 --out {} --threshold nan", q(dir / "m.pt")), "--threshold"},
      {"align", fmt::format("{} {} --template dlib-chip --padding nan", q(dir / "a"), q(dir / "out")), "--padding"},
      {"align", fmt::format("{} {} --size 100000", q(dir / "a"), q(dir / "out")), "--size"},
      {"identify", fmt::format("--gallery {} query {} --top 0", q(dir / "g.db"), q(dir / "a/1.png")), "--top"},
  };
  for (const auto& c : cases) {
    auto r = face::test::run_command(run_tool(c.tool, c.args));
    EXPECT_EQ(r.status, 2) << c.tool << " " << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.option), std::string::npos) << c.tool << " " << c.args << ": " << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  EXPECT_FALSE(std::filesystem::exists(dir / "g.db"));
}

TEST(ToolOptions, FilesNotHandedOverForWritingAreNeverReplaced) {
  face::test::TempDir dir;
  write_face_png(dir / "in/person/1.png", 120);
  // identify_eval --gallery names an existing file (here a text file, as a user's could be).
  face::test::write_text(dir / "notes.txt", "my notes\n");
  auto r = face::test::run_command(run_tool("identify_eval", fmt::format("--lfw {} --model random --gallery {}",
                                                                          q(dir / "in"), q(dir / "notes.txt"))));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("notes.txt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  EXPECT_EQ(face::read_file(dir / "notes.txt"), "my notes\n");
  // align --manifest names an unrelated file: refused, untouched, nothing aligned.
  face::test::write_text(dir / "report.csv", "a,b\n1,2\n");
  r = face::test::run_command(run_tool("align", fmt::format("{} {} --manifest {}", q(dir / "in"), q(dir / "out"),
                                                            q(dir / "report.csv"))));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("report.csv"), std::string::npos) << r.output;
  EXPECT_EQ(face::read_file(dir / "report.csv"), "a,b\n1,2\n");
  // The input folder as its own output would replace the originals: refused by name.
  r = face::test::run_command(run_tool("align", fmt::format("{} {}", q(dir / "in"), q(dir / "in"))));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is the input folder"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "in/person/1.png"));
}

TEST(ToolOptions, EmbedLeavesOutNamesThatWouldBreakTheNamesFile) {
  face::test::TempDir dir;
  write_face_png(dir / "imgs/good.png");
  write_face_png(dir / "imgs/bad\nname.png");
  auto r = face::test::run_command(run_tool("embed", fmt::format("{} --out {} --model random --threads 1",
                                                                  q(dir / "imgs"), q(dir / "e.npy"))));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("bad\\nname.png"), std::string::npos) << r.output;
  EXPECT_EQ(face::read_file(dir / "e.txt"), "good.png\n");
}

TEST(ToolOptions, SymlinkedIdentityFoldersAreFollowed) {
  face::test::TempDir dir;
  write_face_png(dir / "elsewhere/alice/1.png");
  write_face_png(dir / "tree/bob/1.png");
  std::filesystem::create_directory_symlink(dir / "elsewhere/alice", dir / "tree/alice");
  auto r = face::test::run_command(run_tool("embed", fmt::format("{} --out {} --model random --threads 1",
                                                                  q(dir / "tree"), q(dir / "e.npy"))));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(face::read_file(dir / "e.txt"), "alice/1.png\nbob/1.png\n");
}
