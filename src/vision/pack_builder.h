// pack_builder.h: an (aligned) image folder -> a decoded pack (data/pack.h), and "rebuild only
// when stale".
//
// Every listed image is decoded (in parallel, LibTorch's intra-op threads) to 8-bit RGB and, if
// it is not already size x size, resized (area filter). A file that cannot be decoded (empty,
// truncated, corrupt, not an image, over the pixel cap) is left out with a warning naming it;
// conversions (grayscale, alpha, 16-bit, resized) are counted and named. Identities that lose
// all their images are dropped and the labels renumbered, so every label has images.
// The pack's source fingerprint is pack_source_fingerprint(folder, size) (data/image_folder.h),
// which the core can recompute without OpenCV to refuse a stale pack.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "data/pack.h"
#include "vision/image_io.h"

namespace face {

struct PackBuildOptions {
  int size = 96;  // images are H = W = size
  ImageReadOptions read;
};

struct PackBuild {
  Pack pack;
  int64_t listed = 0, decoded = 0, converted = 0, failed = 0;
  std::vector<std::string> warnings;  // the folder's listing warnings, then one per failure/conversion
};

PackBuild build_pack(const ImageFolder& folder, const PackBuildOptions& options = {});

// Makes `pack_path` a pack of `source` (listed with `folder_options`) unless it already is one
// with the current fingerprint (and `force` is false). face::Error when nothing could be decoded
// or the pack cannot be written.
struct EnsuredPack {
  bool rebuilt = false;
  std::string reason;  // "up to date", "no pack yet", "stale: source changed", "forced", "unreadable: ..."
  std::string fingerprint;
  PackBuild build;     // filled only when rebuilt
};
EnsuredPack ensure_pack(const std::filesystem::path& source, const std::filesystem::path& pack_path,
                        const ImageFolderOptions& folder_options, const PackBuildOptions& options, bool force = false);

}  // namespace face
