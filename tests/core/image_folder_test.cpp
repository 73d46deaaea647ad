// Listing an image-folder data set in the core (no decoding, no OpenCV): identities, filters,
// odd entries reported by name, and a fingerprint that changes with the source, so a trainer
// without OpenCV can tell that a pack is stale.
#include <thread>

#include "data/image_folder.h"
#include "test_support.h"
#include "util/error.h"

namespace face {
namespace {

namespace fs = std::filesystem;

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  return all;
}

TEST(ImageFolder, ListsIdentitiesSortedWithFiltersAndWarnings) {
  test::TempDir dir;
  for (std::string f : {"b/2.JPG", "b/1.jpeg", "b/sub/3.webp", "a/x.png", "Émile_李/e.bmp", "c/only.txt"})
    test::write_text(dir / f, "bytes");  // not decoded here: contents do not matter
  test::write_text(dir / "loose.jpg", "x");
  fs::create_directories(dir / "empty");
  fs::create_symlink(dir / "gone", dir / "dangling");
  fs::create_symlink(dir / "b/missing.jpg", dir / "b/link.jpg");

  ImageFolder all = scan_image_folder(dir.path);
  EXPECT_EQ(all.identities, (std::vector<std::string>{"a", "b", "Émile_李"}));  // byte order
  EXPECT_EQ(all.paths, (std::vector<std::string>{"a/x.png", "b/1.jpeg", "b/2.JPG", "b/sub/3.webp", "Émile_李/e.bmp"}));
  EXPECT_EQ(all.labels, (std::vector<int64_t>{0, 1, 1, 1, 2}));
  EXPECT_EQ(all.file(4), dir.path / "Émile_李/e.bmp");
  std::string warnings = joined(all.warnings);
  for (std::string named : {"loose.jpg", "'c' has no images", "'empty' has no images", "dangling", "link.jpg",
                            "2 identities have a single image"})
    EXPECT_NE(warnings.find(named), std::string::npos) << named << " not in:\n" << warnings;

  ImageFolderOptions filters;
  filters.min_images = 2;
  filters.max_images = 2;
  ImageFolder some = scan_image_folder(dir.path, filters);
  EXPECT_EQ(some.identities, (std::vector<std::string>{"b"}));
  EXPECT_EQ(some.paths, (std::vector<std::string>{"b/1.jpeg", "b/2.JPG"}));
  EXPECT_NE(joined(some.warnings).find("'a' has 1 image(s), fewer than the minimum 2"), std::string::npos);

  EXPECT_THROW(scan_image_folder(dir / "nonexistent"), Error);
}

TEST(ImageFolder, FingerprintFollowsTheSource) {
  test::TempDir dir;
  test::write_text(dir / "a/1.jpg", "one");
  test::write_text(dir / "a/2.jpg", "two");
  std::string base = scan_image_folder(dir.path).fingerprint;
  EXPECT_EQ(scan_image_folder(dir.path).fingerprint, base) << "deterministic";
  EXPECT_NE(pack_source_fingerprint(scan_image_folder(dir.path), 96),
            pack_source_fingerprint(scan_image_folder(dir.path), 64));

  test::write_text(dir / "a/2.jpg", "two, longer");  // size changes
  std::string resized = scan_image_folder(dir.path).fingerprint;
  EXPECT_NE(resized, base);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  test::write_text(dir / "a/2.jpg", "two, LONGER");  // same size, newer
  std::string touched = scan_image_folder(dir.path).fingerprint;
  EXPECT_NE(touched, resized);
  fs::rename(dir / "a/2.jpg", dir / "a/3.jpg");  // renamed
  std::string renamed = scan_image_folder(dir.path).fingerprint;
  EXPECT_NE(renamed, touched);
  test::write_text(dir / "a/notes.txt", "not an image");  // not part of the data set
  EXPECT_EQ(scan_image_folder(dir.path).fingerprint, renamed);
}

}  // namespace
}  // namespace face
