// Image folder -> pack: round trip of pixels, labels, names and paths; bad files left out with a
// warning; a stale pack (source changed) detected, refused by load_pack and rebuilt by
// ensure_pack; and the `pack` program's "rebuild only when stale".
#include <opencv2/imgcodecs.hpp>

#include <thread>

#include "test_support.h"
#include "util/error.h"
#include "vision/pack_builder.h"

namespace face {
namespace {

namespace fs = std::filesystem;

// A solid-colour image file (OpenCV writes BGR, so the colour is given in RGB and swapped).
void write_colour(const fs::path& path, cv::Size size, cv::Vec3b rgb) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), cv::Mat(size, CV_8UC3, cv::Scalar(rgb[2], rgb[1], rgb[0]))));
}

// alice: 3 PNGs, bob: 2 (one grayscale, one a text file named .jpg), Zoë_李: 1 PNG, not resized.
struct Folder {
  test::TempDir dir;
  Folder() {
    write_colour(dir / "alice/a1.png", {32, 32}, {255, 0, 0});
    write_colour(dir / "alice/a2.png", {32, 32}, {0, 255, 0});
    write_colour(dir / "alice/a3.png", {64, 48}, {0, 0, 255});  // resized in the pack
    fs::create_directories(dir / "bob");
    cv::imwrite((dir / "bob/b1.png").string(), cv::Mat(32, 32, CV_8UC1, cv::Scalar(50)));  // grayscale
    test::write_text(dir / "bob/broken.jpg", "not an image");
    write_colour(dir / "Zoë_李/z1.png", {32, 32}, {9, 8, 7});
    test::write_text(dir / "README.txt", "ignored: not an image");
  }
};

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

TEST(PackBuilder, FolderToPackRoundTrips) {
  Folder f;
  ImageFolder folder = scan_image_folder(f.dir.path);
  ASSERT_EQ(folder.identities, (std::vector<std::string>{"Zoë_李", "alice", "bob"}));
  ASSERT_EQ(folder.size(), 6);
  EXPECT_TRUE(contains(folder.warnings, "single image")) << "Zoë_李 has one image";

  PackBuild b = build_pack(folder, PackBuildOptions{32, {}});
  EXPECT_EQ(b.listed, 6);
  EXPECT_EQ(b.decoded, 5);
  EXPECT_EQ(b.failed, 1);
  EXPECT_EQ(b.converted, 2);  // bob's grayscale, alice's 64x48
  EXPECT_TRUE(contains(b.warnings, "broken.jpg"));
  EXPECT_TRUE(contains(b.warnings, "grayscale"));
  EXPECT_TRUE(contains(b.warnings, "resized from 64x48"));

  test::TempDir out;
  save_pack(out / "set.pack", b.pack);
  Pack p = load_pack(out / "set.pack", pack_source_fingerprint(folder, 32));
  ASSERT_EQ(p.size(), 5);
  EXPECT_EQ(p.images.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
  EXPECT_EQ(p.identities, (std::vector<std::string>{"Zoë_李", "alice", "bob"}));
  EXPECT_EQ(p.paths, (std::vector<std::string>{"Zoë_李/z1.png", "alice/a1.png", "alice/a2.png", "alice/a3.png", "bob/b1.png"}));
  EXPECT_EQ(std::vector<int64_t>(p.labels.data_ptr<int64_t>(), p.labels.data_ptr<int64_t>() + 5),
            (std::vector<int64_t>{0, 1, 1, 1, 2}));
  auto pixel = [&](int64_t i, int c) { return p.images[i][c][10][10].item<int>(); };
  EXPECT_EQ(pixel(0, 0), 9);  // RGB channel order kept
  EXPECT_EQ(pixel(0, 2), 7);
  EXPECT_EQ(pixel(1, 0), 255);
  EXPECT_EQ(pixel(2, 1), 255);
  EXPECT_EQ(pixel(3, 2), 255);
  EXPECT_EQ(pixel(4, 1), 50);  // grayscale -> equal RGB
  EXPECT_TRUE(torch::equal(p.images, b.pack.images));
}

TEST(PackBuilder, FiltersDropIdentitiesAndCapImages) {
  Folder f;
  ImageFolderOptions options;
  options.min_images = 2;
  options.max_images = 2;
  ImageFolder folder = scan_image_folder(f.dir.path, options);
  EXPECT_EQ(folder.identities, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(folder.paths, (std::vector<std::string>{"alice/a1.png", "alice/a2.png", "bob/b1.png", "bob/broken.jpg"}));
  EXPECT_TRUE(contains(folder.warnings, "Zoë_李"));
  EXPECT_NE(folder.fingerprint, scan_image_folder(f.dir.path).fingerprint) << "filters are part of the fingerprint";
}

TEST(PackBuilder, StalePackIsDetectedRefusedAndRebuilt) {
  Folder f;
  test::TempDir out;
  fs::path pack = out / "set.pack";
  EnsuredPack first = ensure_pack(f.dir.path, pack, {}, {32, {}});
  EXPECT_TRUE(first.rebuilt);
  EXPECT_EQ(first.reason, "no pack yet");
  EnsuredPack again = ensure_pack(f.dir.path, pack, {}, {32, {}});
  EXPECT_FALSE(again.rebuilt);
  EXPECT_EQ(again.reason, "up to date");
  EXPECT_TRUE(ensure_pack(f.dir.path, pack, {}, {32, {}}, /*force=*/true).rebuilt);
  // Another size is another pack.
  EXPECT_NE(pack_source_fingerprint(scan_image_folder(f.dir.path), 48), first.fingerprint);

  // The source changes: an image added.
  write_colour(f.dir / "carol/c1.png", {32, 32}, {1, 2, 3});
  std::string now = pack_source_fingerprint(scan_image_folder(f.dir.path), 32);
  EXPECT_NE(now, first.fingerprint);
  try {
    load_pack(pack, now);
    FAIL() << "stale pack loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stale"), std::string::npos) << e.what();
  }
  EnsuredPack rebuilt = ensure_pack(f.dir.path, pack, {}, {32, {}});
  EXPECT_TRUE(rebuilt.rebuilt);
  EXPECT_NE(rebuilt.reason.find("stale"), std::string::npos) << rebuilt.reason;
  Pack p = load_pack(pack, now);
  EXPECT_EQ(p.identities.back(), "carol");

  // Same names, same size, new content (rewritten later): the modification time changes it.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_colour(f.dir / "carol/c1.png", {32, 32}, {3, 2, 1});
  EXPECT_NE(pack_source_fingerprint(scan_image_folder(f.dir.path), 32), now);
  EXPECT_TRUE(ensure_pack(f.dir.path, pack, {}, {32, {}}).rebuilt);
  EXPECT_EQ(load_pack(pack).images[p.size() - 1][0][0][0].item<int>(), 3);
}

TEST(PackBuilder, NothingDecodableIsAnError) {
  test::TempDir dir, out;
  test::write_text(dir / "x/bad.jpg", "");
  test::write_text(dir / "y/bad.png", "text");
  EXPECT_THROW(ensure_pack(dir.path, out / "p.pack", {}, {}), Error);
  EXPECT_FALSE(fs::exists(out / "p.pack"));
}

TEST(PackTool, RebuildsOnlyWhenStale) {
  Folder f;
  test::TempDir out;
  std::string command = test::tool("pack").string() + " '" + f.dir.path.string() + "' '" + (out / "s.pack").string() +
                        "' --size 32 --threads 1";
  auto first = test::run_command(command);
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("5 images of 3 identities"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("broken.jpg"), std::string::npos) << first.output;
  auto second = test::run_command(command);
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("up to date"), std::string::npos) << second.output;
  auto unwritable = test::run_command(test::tool("pack").string() + " '" + f.dir.path.string() + "' /proc/no/s.pack");
  EXPECT_EQ(unwritable.status, 1) << unwritable.output;
}

}  // namespace
}  // namespace face
