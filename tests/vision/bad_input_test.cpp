// Bad image files, each generated here: every one is refused with a message naming the file and
// the problem, or converted to 8-bit RGB with a note saying what was done.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "vision/image_io.h"

namespace face {
namespace {

namespace fs = std::filesystem;

std::string encode(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

cv::Mat noise(int rows, int cols, int type) {
  cv::Mat m(rows, cols, type);
  cv::randu(m, 0, 255);
  return m;
}

// read_rgb must throw, with the file name and `what` in the message.
void expect_refused(const fs::path& path, const std::string& what, const ImageReadOptions& options = {}) {
  try {
    read_rgb(path, options);
    ADD_FAILURE() << path << " was accepted";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << "expected '" << what << "' in: " << message;
  }
}

TEST(BadInput, CorruptJpegDataIsRefusedNotHalfDecoded) {
  test::TempDir dir;
  // A smooth image, so that the entropy-coded data is long and a damaged byte is noticed.
  cv::Mat image(96, 96, CV_8UC3);
  for (int r = 0; r < 96; ++r)
    for (int c = 0; c < 96; ++c) image.at<cv::Vec3b>(r, c) = cv::Vec3b(r * 2, c * 2, (r + c));
  std::string jpeg = encode(image, ".jpg");
  // Start and end markers intact; bytes in the middle of the scan data replaced by invalid codes.
  std::string corrupt = jpeg;
  size_t scan = corrupt.find("\xFF\xDA");
  ASSERT_NE(scan, std::string::npos);
  size_t middle = scan + (corrupt.size() - scan) / 2;
  for (size_t i = middle; i < middle + 24; ++i) corrupt[i] = static_cast<char>(i % 2 ? 0xFF : 0xD3);
  test::write_text(dir / "whole.jpg", jpeg);
  test::write_text(dir / "damaged.jpg", corrupt);
  EXPECT_EQ(read_rgb(dir / "whole.jpg").rgb.size(), cv::Size(96, 96));
  expect_refused(dir / "damaged.jpg", "corrupt JPEG");
  // Grayscale JPEGs still decode (through the strict decoder), as grey RGB.
  cv::Mat gray(32, 32, CV_8UC1, cv::Scalar(90));
  test::write_text(dir / "gray.jpg", encode(gray, ".jpg"));
  auto g = read_rgb(dir / "gray.jpg");
  EXPECT_EQ(g.rgb.type(), CV_8UC3);
  EXPECT_NEAR(g.rgb.at<cv::Vec3b>(5, 5)[0], 90, 2);
}

TEST(BadInput, ZeroByteFile) {
  test::TempDir dir;
  test::write_text(dir / "empty.jpg", "");
  expect_refused(dir / "empty.jpg", "empty file");
}

TEST(BadInput, TruncatedJpegAndPngAreRefusedNotHalfDecoded) {
  test::TempDir dir;
  std::string jpeg = encode(noise(64, 64, CV_8UC3), ".jpg"), png = encode(noise(64, 64, CV_8UC3), ".png");
  // The complete files read fine ...
  test::write_text(dir / "whole.jpg", jpeg);
  test::write_text(dir / "whole.png", png);
  EXPECT_EQ(read_rgb(dir / "whole.jpg").rgb.size(), cv::Size(64, 64));
  EXPECT_EQ(read_rgb(dir / "whole.png").rgb.size(), cv::Size(64, 64));
  // ... cut in half they would decode with a grey lower part (libjpeg only warns): refused.
  test::write_text(dir / "cut.jpg", jpeg.substr(0, jpeg.size() / 2));
  test::write_text(dir / "cut.png", png.substr(0, png.size() / 2));
  expect_refused(dir / "cut.jpg", "truncated JPEG");
  expect_refused(dir / "cut.png", "truncated PNG");
  // A JPEG with bytes after its end-of-image marker is complete and still accepted.
  test::write_text(dir / "trailer.jpg", jpeg + "trailing bytes");
  EXPECT_NO_THROW(read_rgb(dir / "trailer.jpg"));
}

TEST(BadInput, CorruptJpegAndPng) {
  test::TempDir dir;
  std::string jpeg = encode(noise(64, 64, CV_8UC3), ".jpg"), png = encode(noise(64, 64, CV_8UC3), ".png");
  std::string bad_jpeg = jpeg, bad_png = png;
  for (size_t i = 2; i < 40; ++i) bad_jpeg[i] = 'x';        // the header segments destroyed
  for (size_t i = 60; i < png.size() - 40; ++i) bad_png[i] ^= 0x5a;  // the compressed data scrambled
  test::write_text(dir / "bad.jpg", bad_jpeg);
  test::write_text(dir / "bad.png", bad_png);
  expect_refused(dir / "bad.jpg", "corrupt");
  expect_refused(dir / "bad.png", "corrupt");
}

TEST(BadInput, TextFileWithImageExtension) {
  test::TempDir dir;
  test::write_text(dir / "notes.jpg", "this is not a picture\n");
  expect_refused(dir / "notes.jpg", "not an image");
}

TEST(BadInput, GrayscaleRgbaAnd16BitAreConvertedWithANote) {
  test::TempDir dir;
  cv::Mat gray(20, 30, CV_8UC1, cv::Scalar(77));
  test::write_text(dir / "gray.png", encode(gray, ".png"));
  RgbImage g = read_rgb(dir / "gray.png");
  EXPECT_EQ(g.rgb.type(), CV_8UC3);
  EXPECT_EQ(g.rgb.at<cv::Vec3b>(5, 5), cv::Vec3b(77, 77, 77));
  EXPECT_NE(g.conversion.find("grayscale"), std::string::npos) << g.conversion;

  cv::Mat bgra(20, 30, CV_8UC4, cv::Scalar(10, 20, 30, 128));  // OpenCV order: B G R A
  test::write_text(dir / "rgba.png", encode(bgra, ".png"));
  RgbImage a = read_rgb(dir / "rgba.png");
  EXPECT_EQ(a.rgb.type(), CV_8UC3);
  EXPECT_EQ(a.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10));  // RGB order
  EXPECT_NE(a.conversion.find("alpha"), std::string::npos) << a.conversion;

  cv::Mat deep(20, 30, CV_16UC3, cv::Scalar(0, 65535, 257 * 100));
  test::write_text(dir / "deep.png", encode(deep, ".png"));
  RgbImage d = read_rgb(dir / "deep.png");
  EXPECT_EQ(d.rgb.type(), CV_8UC3);
  EXPECT_EQ(d.rgb.at<cv::Vec3b>(3, 3), cv::Vec3b(100, 255, 0));
  EXPECT_NE(d.conversion.find("8-bit"), std::string::npos) << d.conversion;

  cv::Mat gray16(20, 30, CV_16UC1, cv::Scalar(257 * 9));
  test::write_text(dir / "gray16.png", encode(gray16, ".png"));
  RgbImage d1 = read_rgb(dir / "gray16.png");
  EXPECT_EQ(d1.rgb.at<cv::Vec3b>(1, 1), cv::Vec3b(9, 9, 9));
}

TEST(BadInput, DecompressionBombIsRefusedFromTheHeader) {
  test::TempDir dir;
  // A tiny PNG whose header claims 100000 x 100000 pixels (10 gigapixels).
  std::string png = encode(cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  for (int i = 0; i < 2; ++i) {  // IHDR width and height, big-endian, at bytes 16 and 20
    uint32_t v = 100000;
    for (int b = 0; b < 4; ++b) png[16 + 4 * i + b] = static_cast<char>((v >> (24 - 8 * b)) & 0xff);
  }
  test::write_text(dir / "bomb.png", png);
  EXPECT_EQ(probe_image_size(png), cv::Size(100000, 100000));
  expect_refused(dir / "bomb.png", "exceeds the cap");
  // A real image above a configured cap, in each format the prober reads.
  for (std::string ext : {".jpg", ".png", ".bmp", ".webp"}) {
    test::write_text(dir / ("big" + ext), encode(noise(120, 100, CV_8UC3), ext));
    EXPECT_EQ(probe_image_size(read_file(dir / ("big" + ext))), cv::Size(100, 120)) << ext;
    expect_refused(dir / ("big" + ext), "exceeds the cap", ImageReadOptions{100 * 119});
    EXPECT_NO_THROW(read_rgb(dir / ("big" + ext), ImageReadOptions{100 * 120})) << ext;
  }
}

// Issue 26, item 4: a format whose size the pre-check did not read (a TIFF) was decoded in full
// before the cap was applied; any other format is refused before decoding.
TEST(BadInput, EveryDecodedFormatHasItsSizeCheckedFromTheHeader) {
  test::TempDir dir;
  // TIFF, big- and little-endian, within and over a cap. "decompression bomb?" is said by the
  // header check only: the check after decoding says "exceeds the cap" alone.
  std::string tiff = encode(noise(120, 100, CV_8UC3), ".tiff");
  test::write_text(dir / "big.tiff", tiff);
  EXPECT_EQ(probe_image_size(tiff), cv::Size(100, 120));
  expect_refused(dir / "big.tiff", "(decompression bomb?)", ImageReadOptions{100 * 119});
  EXPECT_EQ(read_rgb(dir / "big.tiff", ImageReadOptions{100 * 120}).rgb.size(), cv::Size(100, 120));
  // A big-endian TIFF header built here: 20000 x 20000 pixels in 34 bytes.
  std::string be("MM\0*\0\0\0\x08\0\x02", 10);
  auto entry = [](uint16_t tag, uint32_t value) {
    std::string e(12, '\0');
    e[0] = static_cast<char>(tag >> 8), e[1] = static_cast<char>(tag & 0xff), e[3] = 4, e[7] = 1;  // LONG, count 1
    for (int b = 0; b < 4; ++b) e[8 + b] = static_cast<char>((value >> (24 - 8 * b)) & 0xff);
    return e;
  };
  be += entry(256, 20000) + entry(257, 20000) + std::string(4, '\0');
  test::write_text(dir / "bomb.tif", be);
  EXPECT_EQ(probe_image_size(be), cv::Size(20000, 20000));
  expect_refused(dir / "bomb.tif", "(decompression bomb?)");
  // Formats whose header is not read here are not decoded at all.
  test::write_text(dir / "bomb.pgm", "P5\n20000 20000\n255\n" + std::string(100, 'x'));
  expect_refused(dir / "bomb.pgm", "not in a format this program reads");
  test::write_text(dir / "small.ppm", encode(noise(8, 8, CV_8UC3), ".ppm"));
  expect_refused(dir / "small.ppm", "not in a format this program reads");
}

// An EXIF APP1 segment holding only an orientation tag, put right after the JPEG's SOI marker.
std::string with_exif_orientation(const std::string& jpeg, uint16_t orientation, bool big_endian) {
  std::string tiff = big_endian ? std::string("MM\0*\0\0\0\x08", 8) : std::string("II*\0\x08\0\0\0", 8);
  auto put16 = [&](uint16_t v) {
    tiff += big_endian ? std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}
                       : std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  };
  put16(1);                              // one entry
  put16(0x0112), put16(3);               // Orientation, SHORT
  put16(big_endian ? 0 : 1), put16(big_endian ? 1 : 0);  // count 1 (32-bit)
  put16(orientation), put16(0);          // the value, left-justified
  tiff += std::string(4, '\0');          // no next directory
  std::string app1 = std::string("Exif\0\0", 6) + tiff;
  const size_t length = app1.size() + 2;
  std::string segment = std::string("\xFF\xE1", 2) + static_cast<char>(length >> 8) + static_cast<char>(length & 0xff) + app1;
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

// Issue 26, item 10: phone photos (EXIF orientation 6 or 3) were read sideways or upside down.
TEST(BadInput, ExifOrientationIsAppliedSoPhotosAreReadUpright) {
  test::TempDir dir;
  // 60 wide, 40 high; the top-left 10x10 corner white, the rest black.
  cv::Mat image(40, 60, CV_8UC3, cv::Scalar(0, 0, 0));
  image(cv::Rect(0, 0, 10, 10)).setTo(cv::Scalar(255, 255, 255));
  const std::string jpeg = encode(image, ".jpg");
  auto white_at = [](const cv::Mat& rgb, int x, int y) { return rgb.at<cv::Vec3b>(y, x)[0] > 200; };
  struct Expected {
    int orientation;
    cv::Size size;
    cv::Point white;  // where the stored top-left corner shows
  };
  // The stored pixels are what the camera saw turned; the orientation says how to turn them back.
  for (const Expected& e : std::vector<Expected>{{1, {60, 40}, {2, 2}},
                                                 {3, {60, 40}, {57, 37}},
                                                 {6, {40, 60}, {37, 2}},
                                                 {8, {40, 60}, {2, 57}},
                                                 {2, {60, 40}, {57, 2}},
                                                 {5, {40, 60}, {2, 2}}}) {
    for (bool big_endian : {false, true}) {
      const std::string name = fmt::format("o{}{}.jpg", e.orientation, big_endian ? "be" : "le");
      const std::string bytes = with_exif_orientation(jpeg, static_cast<uint16_t>(e.orientation), big_endian);
      EXPECT_EQ(exif_orientation(bytes), e.orientation) << name;
      test::write_text(dir / name, bytes);
      cv::Mat rgb = read_rgb(dir / name).rgb;
      ASSERT_EQ(rgb.size(), e.size) << name;
      EXPECT_TRUE(white_at(rgb, e.white.x, e.white.y)) << name << ": the stored corner is not where a viewer shows it";
      if (e.white != cv::Point(2, 2)) EXPECT_FALSE(white_at(rgb, 2, 2)) << name << ": read as stored";
    }
  }
  EXPECT_EQ(exif_orientation(jpeg), 1);  // no EXIF: as stored
  EXPECT_EQ(exif_orientation(with_exif_orientation(jpeg, 9, false)), 1);  // out of range: ignored
}

TEST(BadInput, NonAsciiNamesReadAndList) {
  test::TempDir dir;
  fs::path file = dir.path / "Zoë_Müller_李" / "Zoë_Müller_李_0001.png";
  test::write_text(file, encode(noise(10, 10, CV_8UC3), ".png"));
  EXPECT_EQ(read_rgb(file).rgb.size(), cv::Size(10, 10));
  auto files = list_images(dir.path);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], file);
}

TEST(BadInput, BrokenAndLoopingLinksAreWarnedAndSkipped) {
  test::TempDir dir;
  test::write_text(dir / "a" / "ok.png", encode(noise(10, 10, CV_8UC3), ".png"));
  fs::create_symlink(dir / "a" / "missing.png", dir / "a" / "dangling.png");
  fs::create_symlink(dir / "a" / "loop.jpg", dir / "a" / "loop.jpg");  // a link to itself
  fs::create_directory_symlink(dir / "b", dir / "b");                   // a folder link to itself
  std::vector<std::string> warnings;
  auto files = list_images(dir.path, &warnings);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "ok.png");
  std::string all;
  for (const auto& w : warnings) all += w + "\n";
  EXPECT_NE(all.find("dangling.png"), std::string::npos) << all;
  EXPECT_NE(all.find("loop.jpg"), std::string::npos) << all;
  expect_refused(dir / "a" / "dangling.png", "no such file");
}

// Root ignores permissions, so this runs only for other users (CI runs as root: it then skips).
TEST(BadInput, UnreadableDirectoryIsWarnedAndSkipped) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: permissions do not stop reading";
  test::TempDir dir;
  test::write_text(dir / "open" / "ok.png", encode(noise(10, 10, CV_8UC3), ".png"));
  test::write_text(dir / "closed" / "hidden.png", encode(noise(10, 10, CV_8UC3), ".png"));
  fs::permissions(dir / "closed", fs::perms::none);
  std::vector<std::string> warnings;
  auto files = list_images(dir.path, &warnings);
  fs::permissions(dir / "closed", fs::perms::owner_all);
  EXPECT_EQ(files.size(), 1u);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("closed"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace face
