#include "vision/pack_builder.h"

#include <fmt/format.h>

#include "util/error.h"
#include "vision/face_reader.h"

namespace face {

namespace fs = std::filesystem;

PackBuild build_pack(const ImageFolder& folder, const PackBuildOptions& options) {
  PackBuild build;
  build.warnings = folder.warnings;
  const int64_t n = folder.size(), s = options.size;
  build.listed = n;
  // Each file whole (a pack's source is an aligned tree), decoded in parallel; failures are
  // compacted away afterwards.
  std::vector<fs::path> files;
  for (int64_t i = 0; i < n; ++i) files.push_back(folder.file(i));
  FaceReadOptions whole;
  whole.size = static_cast<int>(s);
  whole.read = options.read;
  ReadFaces read = read_faces(files, whole);
  const auto& images = read.images;
  const auto& errors = read.errors;

  std::vector<int64_t> keep;
  std::vector<int64_t> remap(folder.identities.size(), -1);
  Pack& pack = build.pack;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      build.warnings.push_back("skipped: " + errors[i]);
      ++build.failed;
      continue;
    }
    if (!read.notes[i].empty()) {
      for (const auto& note : read.notes[i]) build.warnings.push_back("image " + note);
      ++build.converted;
    }
    int64_t& label = remap[static_cast<size_t>(folder.labels[i])];
    if (label < 0) {
      label = static_cast<int64_t>(pack.identities.size());
      pack.identities.push_back(folder.identities[static_cast<size_t>(folder.labels[i])]);
    }
    keep.push_back(i);
    labels.push_back(label);
    pack.paths.push_back(folder.paths[i]);
  }
  build.decoded = static_cast<int64_t>(keep.size());
  for (size_t id = 0; id < remap.size(); ++id)
    if (remap[id] < 0 && build.failed > 0)
      build.warnings.push_back(fmt::format("identity '{}' lost all its images to decoding errors, dropped",
                                           folder.identities[id]));
  pack.images = build.failed == 0 ? images : images.index_select(0, torch::tensor(keep, torch::kInt64));
  pack.labels = torch::tensor(labels, torch::kInt64);
  pack.source_fingerprint = pack_source_fingerprint(folder, static_cast<int>(s));
  return build;
}

EnsuredPack ensure_pack(const fs::path& source, const fs::path& pack_path, const ImageFolderOptions& folder_options,
                        const PackBuildOptions& options, bool force) {
  EnsuredPack result;
  ImageFolder folder = scan_image_folder(source, folder_options);
  result.fingerprint = pack_source_fingerprint(folder, options.size);
  std::error_code ec;
  if (force) {
    result.reason = "forced";
  } else if (!fs::exists(pack_path, ec)) {
    result.reason = "no pack yet";
  } else {
    try {
      std::string existing = read_pack_fingerprint(pack_path);
      if (existing == result.fingerprint) {
        result.reason = "up to date";
        return result;
      }
      result.reason = fmt::format("stale: built from {}, source is now {}", existing, result.fingerprint);
    } catch (const Error& e) {
      result.reason = fmt::format("unreadable: {}", e.what());
    }
  }
  if (folder.size() == 0) fail("image folder '{}' has no usable images; pack '{}' not written", source.string(), pack_path.string());
  result.build = build_pack(folder, options);
  if (result.build.decoded == 0)
    fail("none of the {} images in '{}' could be decoded; pack '{}' not written", folder.size(), source.string(),
         pack_path.string());
  save_pack(pack_path, result.build.pack);
  result.rebuilt = true;
  return result;
}

}  // namespace face
