// image_io.h: reading image files into 8-bit RGB, with every failure named, and writing them.
//
// Whatever the file holds (grayscale, RGBA, 16-bit PNG), a successful read returns 8-bit,
// 3-channel RGB. Failures throw VisionError (vision_error.h: a face::Error with its kind) naming
// the file and the reason: missing, a directory, unreadable (VisionFailure::unreadable); larger
// than the pixel cap, checked from the header before decoding so a decompression bomb is refused
// cheaply (too_large); empty, not an image, truncated or corrupt (undecodable). An EXIF
// orientation is applied: the pixels come out upright, as a photo viewer shows them.
#pragma once
#include <opencv2/core.hpp>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "vision/vision_error.h"

namespace face {

struct ImageReadOptions {
  int64_t max_pixels = 64LL * 1024 * 1024;  // refuse anything larger (width x height)
};

// The decoded image and anything worth a warning (e.g. "converted from 16-bit").
struct RgbImage {
  cv::Mat rgb;  // CV_8UC3, RGB order
  std::string conversion;
};

RgbImage read_rgb(const std::filesystem::path& path, const ImageReadOptions& options = {});

// The same checks and decoding on bytes already in memory (an HTTP upload: deploy/serve), so
// nothing is written to a temporary file; `name` stands for the path in every message.
RgbImage decode_rgb(const std::string& bytes, const std::string& name, const ImageReadOptions& options = {});

// Width and height from the file header alone (PNG, JPEG, BMP, WebP, TIFF, GIF); {0, 0} if
// unknown. decode_rgb decodes nothing whose size this does not read, so the pixel cap holds for
// every format it accepts.
cv::Size probe_image_size(const std::string& bytes);

// The EXIF orientation (1..8; 1 = as stored) of a JPEG's EXIF block or a TIFF's first
// directory; 1 when there is none or it is out of range. decode_rgb applies it.
int exif_orientation(const std::string& bytes);
// `image` turned upright for `orientation` (EXIF's numbering: 3 = 180 degrees, 6 = stored turned
// a quarter anticlockwise, ...); the image itself for 1 or unknown values.
cv::Mat apply_orientation(const cv::Mat& image, int orientation);

// 8-bit RGB -> the bytes of a PNG file (lossless). face::Error if OpenCV cannot encode it.
std::string encode_png(const cv::Mat& rgb);

// True for the extensions treated as images: jpg, jpeg, png, bmp, webp (any case); the same
// rule as data/image_folder.h's has_image_file_extension, which the core (no OpenCV) uses.
bool has_image_extension(const std::filesystem::path& path);

// Why the bytes of a PNG or JPEG are incomplete ("truncated JPEG (no end-of-image marker)"),
// or "" when they look complete (or are another format). read_rgb refuses such files.
std::string truncation_problem(const std::string& bytes);

// Every image file under `root` (recursively, sorted), or `root` itself if it is a file.
// Unreadable directories are reported through `warnings` and skipped.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& root,
                                               std::vector<std::string>* warnings = nullptr);

// 8-bit RGB image -> uint8 (3, size, size) tensor, resized (area filter) when needed.
torch::Tensor to_chw_tensor(const cv::Mat& rgb, int size);

}  // namespace face
