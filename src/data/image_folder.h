// image_folder.h: a labelled image-folder data set (one folder per identity), listed from the
// file system alone, so the core (no OpenCV) can check whether a pack is stale.
//
//   root/<identity>/<image>       identity = the top-level folder's name (any bytes, UTF-8 kept
//                                 as is); images may sit in sub-folders of it too
//
// Images are files with the extensions jpg, jpeg, png, bmp, webp (any case); other files are
// ignored. Nothing here decodes: a corrupt file with an image extension is listed and is
// refused later by the decoder (vision/image_io.h), with a warning naming it.
//
// Everything odd is reported, never fatal: files directly in the root (not in an identity
// folder), unreadable or looping folders, broken links, identities with no images, and
// identities dropped by the filters each give a warning naming them; identities with a single
// image are kept (when min_images allows) and named in one warning, since they give no positive
// pairs. face::Error only when the root itself is missing or unreadable.
//
// Order is deterministic: identities sorted by name (byte order), images sorted by relative
// path; `max_images` keeps an identity's first images in that order.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace face {

// True for jpg, jpeg, png, bmp, webp (any case).
bool has_image_file_extension(const std::filesystem::path& path);

struct ImageFolderOptions {
  int64_t min_images = 1;  // identities with fewer images are dropped (with a warning)
  int64_t max_images = 0;  // keep at most this many images per identity; 0 = all
};

struct ImageFolder {
  std::filesystem::path root;
  std::vector<std::string> identities;  // label -> folder name
  std::vector<std::string> paths;       // image i relative to root ('/'-separated)
  std::vector<int64_t> labels;          // image i -> index into identities
  std::vector<std::string> warnings;    // each names the file or folder and what was done
  // FNV-1a over the options and every listed file's relative path, size and modification time:
  // any added, removed, replaced or touched image changes it.
  std::string fingerprint;

  int64_t size() const { return static_cast<int64_t>(paths.size()); }
  std::filesystem::path file(int64_t i) const { return root / paths[static_cast<size_t>(i)]; }
};

ImageFolder scan_image_folder(const std::filesystem::path& root, const ImageFolderOptions& options = {});

// The source fingerprint a pack of `folder` decoded at `size` x `size` carries (data/pack.h).
std::string pack_source_fingerprint(const ImageFolder& folder, int size);

}  // namespace face
