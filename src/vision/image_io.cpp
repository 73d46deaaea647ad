#include "vision/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <optional>
#include <set>
#include <string_view>

#include "data/image_folder.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "vision/jpeg_decoder.h"

namespace face {

namespace fs = std::filesystem;

namespace {
uint32_t big_endian(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}
uint32_t little_endian(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}
}  // namespace

namespace {

// A TIFF structure (a .tif file, or the EXIF block inside a JPEG): byte order, then the first
// image file directory's entries. `tiff` starts at the "II*\0" / "MM\0*" header.
struct TiffReader {
  std::string_view tiff;
  bool little = true;

  uint32_t number(size_t at, int bytes) const {
    if (at + static_cast<size_t>(bytes) > tiff.size()) return 0;
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      unsigned char c = static_cast<unsigned char>(tiff[at + (little ? bytes - 1 - i : i)]);
      v = (v << 8) | c;
    }
    return v;
  }
  static std::optional<TiffReader> open(std::string_view bytes) {
    if (bytes.size() < 8) return std::nullopt;
    TiffReader r{bytes};
    if (bytes.compare(0, 4, std::string_view("II*\0", 4)) == 0) r.little = true;
    else if (bytes.compare(0, 4, std::string_view("MM\0*", 4)) == 0) r.little = false;
    else return std::nullopt;  // BigTIFF ("II+") among others: not read
    return r;
  }
  // The value of a SHORT or LONG tag in the first directory; nullopt when absent.
  std::optional<uint32_t> tag(uint16_t wanted) const {
    const size_t ifd = number(4, 4);
    const uint32_t entries = number(ifd, 2);
    for (uint32_t i = 0; i < entries && i < 1000; ++i) {
      const size_t at = ifd + 2 + 12 * static_cast<size_t>(i);
      if (at + 12 > tiff.size()) return std::nullopt;
      if (number(at, 2) != wanted) continue;
      const uint32_t type = number(at + 2, 2);
      if (type == 3) return number(at + 8, 2);  // SHORT, left-justified in the value field
      if (type == 4) return number(at + 8, 4);  // LONG
      return std::nullopt;
    }
    return std::nullopt;
  }
};

// The EXIF block of a JPEG (the APP1 segment that starts "Exif\0\0"), as a TIFF; empty if none.
std::string_view jpeg_exif(const std::string& b) {
  size_t i = 2;
  while (i + 4 <= b.size() && static_cast<unsigned char>(b[i]) == 0xFF) {
    unsigned marker = static_cast<unsigned char>(b[i + 1]);
    if (marker == 0xDA || marker == 0xD9) break;  // the scan: no more header segments
    if (marker == 0xFF) { ++i; continue; }
    size_t length = big_endian(b, i + 2, 2);
    if (marker == 0xE1 && length >= 8 && i + 2 + length <= b.size() && b.compare(i + 4, 6, std::string("Exif\0\0", 6)) == 0)
      return std::string_view(b).substr(i + 10, length - 8);
    i += 2 + length;
  }
  return {};
}

bool is_jpeg(const std::string& b) {
  return b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
         static_cast<unsigned char>(b[2]) == 0xFF;
}

}  // namespace

int exif_orientation(const std::string& bytes) {
  std::optional<TiffReader> tiff = TiffReader::open(is_jpeg(bytes) ? jpeg_exif(bytes) : std::string_view(bytes));
  if (!tiff) return 1;
  uint32_t v = tiff->tag(0x0112).value_or(1);
  return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
}

cv::Mat apply_orientation(const cv::Mat& image, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2: cv::flip(image, out, 1); break;                                   // mirrored
    case 3: cv::rotate(image, out, cv::ROTATE_180); break;                    // upside down
    case 4: cv::flip(image, out, 0); break;                                   // mirrored upside down
    case 5: cv::transpose(image, out); break;                                 // mirrored, on its side
    case 6: cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE); break;           // a phone held upright
    case 7: cv::transpose(image, out); cv::flip(out, out, -1); break;         // mirrored, on its other side
    case 8: cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: out = image;
  }
  return out;
}

cv::Size probe_image_size(const std::string& b) {
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0)
    return {static_cast<int>(big_endian(b, 16, 4)), static_cast<int>(big_endian(b, 20, 4))};
  if (b.size() >= 26 && b.compare(0, 2, "BM") == 0) {
    if (little_endian(b, 14, 4) == 12)  // an OS/2 BITMAPCOREHEADER: 16-bit sizes
      return {static_cast<int>(little_endian(b, 18, 2)), static_cast<int>(little_endian(b, 20, 2))};
    int32_t w = static_cast<int32_t>(little_endian(b, 18, 4)), h = static_cast<int32_t>(little_endian(b, 22, 4));
    // std::abs of INT32_MIN is undefined: such a header is a bomb either way
    auto side = [](int32_t v) { return v == INT32_MIN ? INT32_MAX : std::abs(v); };
    return {side(w), side(h)};
  }
  if (std::optional<TiffReader> tiff = TiffReader::open(b)) {
    // ImageWidth and ImageLength of the first image (the one OpenCV decodes).
    auto w = tiff->tag(256), h = tiff->tag(257);
    if (!w || !h) return {0, 0};
    auto side = [](uint32_t v) { return static_cast<int>(std::min<uint32_t>(v, INT32_MAX)); };
    return {side(*w), side(*h)};
  }
  if (b.size() >= 10 && (b.compare(0, 6, "GIF87a") == 0 || b.compare(0, 6, "GIF89a") == 0))
    return {static_cast<int>(little_endian(b, 6, 2)), static_cast<int>(little_endian(b, 8, 2))};
  if (b.size() >= 30 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) {
    if (b.compare(12, 4, "VP8X") == 0)
      return {static_cast<int>(little_endian(b, 24, 3) + 1), static_cast<int>(little_endian(b, 27, 3) + 1)};
    if (b.compare(12, 4, "VP8 ") == 0)
      return {static_cast<int>(little_endian(b, 26, 2) & 0x3fff), static_cast<int>(little_endian(b, 28, 2) & 0x3fff)};
    if (b.compare(12, 4, "VP8L") == 0) {
      uint32_t bits = little_endian(b, 21, 4);
      return {static_cast<int>((bits & 0x3fff) + 1), static_cast<int>(((bits >> 14) & 0x3fff) + 1)};
    }
  }
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8) {
    // Walk the JPEG markers to the first start-of-frame.
    size_t i = 2;
    while (i + 9 < b.size()) {
      if (static_cast<unsigned char>(b[i]) != 0xFF) return {0, 0};
      unsigned marker = static_cast<unsigned char>(b[i + 1]);
      if (marker == 0xFF) { ++i; continue; }
      if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) { i += 2; continue; }
      uint32_t length = big_endian(b, i + 2, 2);
      bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (sof) return {static_cast<int>(big_endian(b, i + 7, 2)), static_cast<int>(big_endian(b, i + 5, 2))};
      i += 2 + length;
    }
  }
  return {0, 0};
}

std::string truncation_problem(const std::string& b) {
  if (b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    // The IEND chunk (type + 4-byte CRC) closes every complete PNG.
    size_t iend = b.rfind("IEND");
    if (iend == std::string::npos || iend + 8 > b.size()) return "truncated PNG (no IEND chunk)";
    return "";
  }
  if (b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8) {
    // Skip the header segments (an EXIF thumbnail is a whole JPEG inside APP1) to the first
    // start-of-scan; the image is complete only if an end-of-image marker follows it. Entropy-
    // coded data never contains FF D9 (FF bytes are stuffed), so the first one is the real end.
    size_t i = 2;
    while (i + 4 <= b.size()) {
      if (static_cast<unsigned char>(b[i]) != 0xFF) return "corrupt JPEG (bad marker)";
      unsigned marker = static_cast<unsigned char>(b[i + 1]);
      if (marker == 0xFF) { ++i; continue; }
      if (marker == 0xD9) return "truncated JPEG (end of image before any scan)";
      if (marker == 0xDA) {
        if (b.find("\xFF\xD9", i + 2) == std::string::npos) return "truncated JPEG (no end-of-image marker)";
        return "";
      }
      if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { i += 2; continue; }
      i += 2 + big_endian(b, i + 2, 2);
    }
    return "truncated JPEG (no image data)";
  }
  return "";
}

bool has_image_extension(const fs::path& path) { return has_image_file_extension(path); }

std::string encode_png(const cv::Mat& rgb) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> png;
  if (!cv::imencode(".png", bgr, png)) fail("cannot encode a {}x{} image as PNG", rgb.cols, rgb.rows);
  return std::string(png.begin(), png.end());
}

RgbImage read_rgb(const fs::path& path, const ImageReadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail_as(VisionFailure::unreadable, "image '{}': no such file", path.string());
  if (fs::is_directory(path, ec)) fail_as(VisionFailure::unreadable, "image '{}': is a directory", path.string());
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const Error&) {
    fail_as(VisionFailure::unreadable, "image '{}': cannot be read (permissions?)", path.string());
  }
  return decode_rgb(bytes, path.string(), options);
}

RgbImage decode_rgb(const std::string& bytes, const std::string& name, const ImageReadOptions& options) {
  if (bytes.empty()) fail_as(VisionFailure::undecodable, "image '{}': empty file (0 bytes)", name);
  cv::Size size = probe_image_size(bytes);
  if (static_cast<int64_t>(size.width) * size.height > options.max_pixels)
    fail_as(VisionFailure::too_large, "image '{}': {}x{} pixels exceeds the cap of {} (decompression bomb?)", name, size.width, size.height,
         options.max_pixels);
  // A truncated file decodes "successfully" with the missing part grey (libjpeg only warns on
  // stderr), which would silently put damaged faces into a data set: refuse it instead.
  std::string truncated = truncation_problem(bytes);
  if (!truncated.empty()) fail_as(VisionFailure::undecodable, "image '{}': {}", name, truncated);
  // Only formats whose size is read here are decoded: any other (PNM, JPEG 2000, OpenEXR, ...)
  // would be decoded in full before its size could be checked, a bomb included.
  if (size.area() <= 0)
    fail_as(VisionFailure::undecodable, "image '{}': not an image, or not in a format this program reads (JPEG, PNG, BMP, WebP, TIFF)", name);
  cv::Mat raw;
  // JPEGs through libjpeg directly, so corrupt data is an error (jpeg_decoder.h), not a grey patch;
  // CMYK and other rare JPEG colour spaces, and every other format, through OpenCV.
  const bool jpeg = is_jpeg(bytes);
  try {
    if (jpeg) raw = decode_jpeg_strict(bytes, name);
    if (raw.empty())
      raw = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data())),
                         cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH);
  } catch (const cv::Exception& e) {
    fail_as(VisionFailure::undecodable, "image '{}': cannot be decoded: {}", name, e.what());
  } catch (const VisionError&) {
    throw;
  } catch (const Error& e) {  // the strict JPEG decoder's corrupt data
    throw VisionError(VisionFailure::undecodable, e.what());
  }
  if (raw.empty()) fail_as(VisionFailure::undecodable, "image '{}': not an image or corrupt", name);
  // Upright as every viewer shows it: phones store the sensor's pixels and an EXIF orientation.
  raw = apply_orientation(raw, exif_orientation(bytes));
  if (static_cast<int64_t>(raw.cols) * raw.rows > options.max_pixels)
    fail_as(VisionFailure::too_large, "image '{}': {}x{} pixels exceeds the cap of {}", name, raw.cols, raw.rows, options.max_pixels);

  RgbImage out;
  std::vector<std::string> notes;
  if (raw.depth() != CV_8U) {
    double scale = raw.depth() == CV_16U ? 1.0 / 257.0 : (raw.depth() == CV_32F ? 255.0 : 1.0);
    raw.convertTo(raw, CV_8U, scale);
    notes.push_back("converted to 8-bit");
  }
  switch (raw.channels()) {
    case 1: cv::cvtColor(raw, out.rgb, cv::COLOR_GRAY2RGB); notes.push_back("grayscale converted to RGB"); break;
    case 3: cv::cvtColor(raw, out.rgb, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(raw, out.rgb, cv::COLOR_BGRA2RGB); notes.push_back("alpha channel dropped"); break;
    default: fail_as(VisionFailure::undecodable, "image '{}': unsupported channel count {}", name, raw.channels());
  }
  for (size_t i = 0; i < notes.size(); ++i) out.conversion += (i ? ", " : "") + notes[i];
  return out;
}

std::vector<fs::path> list_images(const fs::path& root, std::vector<std::string>* warnings) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::exists(root, ec)) fail("'{}': no such file or directory", root.string());
  if (!fs::is_directory(root, ec)) return {root};
  // Linked folders are followed (an identity folder may be a link), each real folder once.
  fs::recursive_directory_iterator it(
      root, fs::directory_options::skip_permission_denied | fs::directory_options::follow_directory_symlink, ec),
      end;
  if (ec) fail("cannot read directory '{}': {}", root.string(), ec.message());
  std::set<fs::path> visited = {fs::canonical(root, ec)};
  for (; it != end; it.increment(ec)) {
    if (ec) {
      if (warnings) warnings->push_back(fmt::format("cannot read under '{}': {}", root.string(), ec.message()));
      ec.clear();
      continue;
    }
    if (it->is_directory(ec) && it->is_symlink(ec) && !visited.insert(fs::canonical(it->path(), ec)).second) {
      if (warnings) warnings->push_back(fmt::format("linked folder '{}' was already listed (a loop?), skipped", it->path().string()));
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec) && ::access(it->path().c_str(), R_OK | X_OK) != 0) {
      if (warnings) warnings->push_back(fmt::format("directory '{}' is unreadable, skipped", it->path().string()));
      it.disable_recursion_pending();
      continue;
    }
    if (!has_image_extension(it->path())) continue;
    if (it->is_regular_file(ec)) {
      files.push_back(it->path());
    } else if (it->is_symlink(ec) && !fs::exists(it->path(), ec) && warnings) {
      warnings->push_back(fmt::format("image '{}': broken symbolic link, skipped", it->path().string()));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

torch::Tensor to_chw_tensor(const cv::Mat& rgb, int size) {
  cv::Mat resized = rgb;
  if (rgb.cols != size || rgb.rows != size)
    cv::resize(rgb, resized, cv::Size(size, size), 0, 0, rgb.cols > size ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (!resized.isContinuous()) resized = resized.clone();
  auto hwc = torch::from_blob(resized.data, {size, size, 3}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).contiguous();
}

}  // namespace face
