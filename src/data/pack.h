// pack.h: a decoded dataset in one file, so training never decodes JPEGs and data reaches
// machines without OpenCV (the GPU machine) as a single file.
//
// File layout (little-endian):
//   "FACEPACK"  u32 version  u32 channels  u32 height  u32 width  u64 count
//   u64 identity count, then each identity name      (u32 length + UTF-8 bytes)
//   each image's relative path, `count` of them      (u32 length + UTF-8 bytes)
//   source fingerprint                               (u32 length + bytes)
//   i32 labels[count]                                (index into the identity names)
//   u8  images[count][channels][height][width]       (RGB)
//   u64 FNV-1a checksum of everything above
// Loading reads the images straight into one tensor, so a pack in memory costs its raw size.
// The source fingerprint (data/image_folder.h computes it from file names, sizes, times and
// the alignment recipe) lets a builder see that a pack is stale and rebuild or refuse it.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace face {

struct Pack {
  torch::Tensor images;                 // uint8 (N, 3, H, W), RGB
  torch::Tensor labels;                 // int64 (N)
  std::vector<std::string> identities;  // label -> identity name
  std::vector<std::string> paths;       // image i's path relative to the source root
  std::string source_fingerprint;

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

constexpr uint32_t kPackVersion = 1;

// Writes atomically; face::Error on inconsistent fields or I/O failure.
void save_pack(const std::filesystem::path& path, const Pack& pack);

// Reads and verifies (magic, version, sizes, checksum). When `expected_fingerprint` is not empty
// and differs from the pack's, fails saying the pack is stale.
Pack load_pack(const std::filesystem::path& path, const std::string& expected_fingerprint = "");

// Reads only the header fields (no images); cheap staleness checks.
std::string read_pack_fingerprint(const std::filesystem::path& path);

}  // namespace face
