#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "data/pack.h"
#include "test_support.h"
#include "util/error.h"

using namespace face;

namespace {
Pack small_pack() {
  Pack p;
  p.images = torch::randint(0, 256, {5, 3, 8, 8}, torch::kUInt8);
  p.labels = torch::tensor({0, 0, 1, 2, 2}, torch::kInt64);
  p.identities = {"Ann", "Bj\xc3\xb6rn", "Zo\xc3\xab"};  // non-ASCII names survive
  p.paths = {"Ann/1.jpg", "Ann/2.jpg", "Bj\xc3\xb6rn/1.jpg", "Zo\xc3\xab/a.png", "Zo\xc3\xab/b.png"};
  p.source_fingerprint = "abc123";
  return p;
}
}  // namespace

TEST(Pack, RoundTripsBitExactly) {
  test::TempDir dir;
  Pack p = small_pack();
  save_pack(dir / "p.pack", p);
  Pack q = load_pack(dir / "p.pack");
  EXPECT_TRUE(torch::equal(p.images, q.images));
  EXPECT_TRUE(torch::equal(p.labels, q.labels));
  EXPECT_EQ(p.identities, q.identities);
  EXPECT_EQ(p.paths, q.paths);
  EXPECT_EQ(q.source_fingerprint, "abc123");
  EXPECT_EQ(read_pack_fingerprint(dir / "p.pack"), "abc123");
}

TEST(Pack, StalePackIsRefused) {
  test::TempDir dir;
  save_pack(dir / "p.pack", small_pack());
  EXPECT_NO_THROW(load_pack(dir / "p.pack", "abc123"));
  try {
    load_pack(dir / "p.pack", "def456");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stale"), std::string::npos);
  }
}

TEST(Pack, CorruptionAndTruncationAreDetected) {
  test::TempDir dir;
  save_pack(dir / "p.pack", small_pack());
  std::string bytes;
  {
    std::ifstream in(dir / "p.pack", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string flipped = bytes;
  flipped[bytes.size() - 20] ^= 0x01;  // one pixel bit
  test::write_text(dir / "flipped.pack", flipped);
  test::write_text(dir / "short.pack", bytes.substr(0, bytes.size() / 2));
  test::write_text(dir / "other.pack", "PK\x03\x04 something else");
  EXPECT_THROW(load_pack(dir / "flipped.pack"), Error);
  EXPECT_THROW(load_pack(dir / "short.pack"), Error);
  EXPECT_THROW(load_pack(dir / "other.pack"), Error);
  EXPECT_THROW(load_pack(dir / "absent.pack"), Error);
}

TEST(Pack, InconsistentPackIsNotWritten) {
  test::TempDir dir;
  Pack p = small_pack();
  p.paths.pop_back();
  EXPECT_THROW(save_pack(dir / "p.pack", p), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "p.pack"));
}
