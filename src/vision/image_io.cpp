#include "vision/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <unistd.h>

#include <cctype>
#include <set>

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

cv::Size probe_image_size(const std::string& b) {
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0)
    return {static_cast<int>(big_endian(b, 16, 4)), static_cast<int>(big_endian(b, 20, 4))};
  if (b.size() >= 26 && b.compare(0, 2, "BM") == 0) {
    int32_t w = static_cast<int32_t>(little_endian(b, 18, 4)), h = static_cast<int32_t>(little_endian(b, 22, 4));
    return {std::abs(w), std::abs(h)};
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

RgbImage read_rgb(const fs::path& path, const ImageReadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("image '{}': no such file", path.string());
  if (fs::is_directory(path, ec)) fail("image '{}': is a directory", path.string());
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const Error&) {
    fail("image '{}': cannot be read (permissions?)", path.string());
  }
  return decode_rgb(bytes, path.string(), options);
}

RgbImage decode_rgb(const std::string& bytes, const std::string& name, const ImageReadOptions& options) {
  if (bytes.empty()) fail("image '{}': empty file (0 bytes)", name);
  cv::Size size = probe_image_size(bytes);
  if (static_cast<int64_t>(size.width) * size.height > options.max_pixels)
    fail("image '{}': {}x{} pixels exceeds the cap of {} (decompression bomb?)", name, size.width, size.height,
         options.max_pixels);
  // A truncated file decodes "successfully" with the missing part grey (libjpeg only warns on
  // stderr), which would silently put damaged faces into a data set: refuse it instead.
  std::string truncated = truncation_problem(bytes);
  if (!truncated.empty()) fail("image '{}': {}", name, truncated);
  cv::Mat raw;
  // JPEGs through libjpeg directly, so corrupt data is an error (jpeg_decoder.h), not a grey patch;
  // CMYK and other rare JPEG colour spaces, and every other format, through OpenCV.
  const bool jpeg = bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
                    static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
  try {
    if (jpeg) raw = decode_jpeg_strict(bytes, name);
    if (raw.empty())
      raw = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data())),
                         cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH);
  } catch (const cv::Exception& e) {
    fail("image '{}': cannot be decoded: {}", name, e.what());
  }
  if (raw.empty()) fail("image '{}': not an image or corrupt", name);
  if (static_cast<int64_t>(raw.cols) * raw.rows > options.max_pixels)
    fail("image '{}': {}x{} pixels exceeds the cap of {}", name, raw.cols, raw.rows, options.max_pixels);

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
    default: fail("image '{}': unsupported channel count {}", name, raw.channels());
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
