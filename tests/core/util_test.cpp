#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/npy.h"

using namespace face;

TEST(AtomicFile, ReplacesWholeAndLeavesNoTemporary) {
  test::TempDir dir;
  write_file_atomic(dir / "a.txt", "first");
  write_file_atomic(dir / "a.txt", "second");
  EXPECT_EQ(read_file(dir / "a.txt"), "second");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) ++files, (void)e;
  EXPECT_EQ(files, 1);
}

TEST(AtomicFile, FailedWriterKeepsThePreviousFile) {
  test::TempDir dir;
  write_file_atomic(dir / "a.txt", "good");
  EXPECT_THROW(write_atomic(dir / "a.txt",
                            [](const std::filesystem::path& tmp) {
                              test::write_text(tmp, "half");
                              throw std::runtime_error("disk full");
                            }),
               Error);
  EXPECT_EQ(read_file(dir / "a.txt"), "good");
}

TEST(AtomicFile, UnwritableDirectoryIsNamed) {
  test::TempDir dir;
  test::write_text(dir / "file", "x");
  try {
    write_file_atomic(dir / "file" / "sub.txt", "y");  // a file where a directory should be
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sub.txt"), std::string::npos) << e.what();
  }
}

TEST(Npy, RoundTripsAndHasNumpyHeader) {
  test::TempDir dir;
  auto m = torch::randn({7, 5});
  write_npy(dir / "m.npy", m);
  auto bytes = read_file(dir / "m.npy");
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ((bytes.size() - 7 * 5 * 4) % 64, 0u);  // header padded to 64 bytes
  EXPECT_NE(bytes.find("'shape': (7, 5)"), std::string::npos);
  EXPECT_TRUE(torch::equal(read_npy(dir / "m.npy"), m));
}
