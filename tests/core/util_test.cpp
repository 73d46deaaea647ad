#include <gtest/gtest.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <csignal>

#include "test_support.h"
#include "util/atomic_file.h"
#include "util/checked_writer.h"
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

// A file size limit stands in for a full disk: write() fails with EFBIG (SIGXFSZ ignored), as
// it would with ENOSPC, and works as root, unlike a read-only directory.
TEST(CheckedWriter, FullDiskIsNamedAndThePreviousFileStays) {
  test::TempDir dir;
  const auto path = dir / "model.pt";
  write_file_atomic(path, "previous model");
  const std::string big(1 << 20, 'x');
  auto serialise = [&](const ByteWriter& writer) {
    for (int i = 0; i < 4; ++i) writer(big.data(), big.size());  // keeps going, as LibTorch does
  };

  std::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    write_atomic(path, [&](const std::filesystem::path& tmp) { write_checked(tmp, path, "model file", serialise); });
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);

  EXPECT_NE(message.find("cannot write model file '" + path.string() + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(read_file(path), "previous model");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) ++files, (void)e;
  EXPECT_EQ(files, 1) << "the temporary is removed";

  write_atomic(path, [&](const std::filesystem::path& tmp) { write_checked(tmp, path, "model file", serialise); });
  EXPECT_EQ(std::filesystem::file_size(path), 4 * big.size()) << "without the limit the same write succeeds";
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
