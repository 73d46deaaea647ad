#include "data/image_folder.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "data/pack.h"
#include "util/error.h"
#include "util/hash.h"

namespace face {

namespace fs = std::filesystem;

bool has_image_file_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp";
}

namespace {

struct Listed {
  std::string relative;
  int64_t bytes, mtime_ns;
};

// An identity folder's images (recursively), with warnings for what could not be read.
std::vector<Listed> list_identity(const fs::path& root, const fs::path& dir, std::vector<std::string>& warnings) {
  std::vector<Listed> files;
  std::error_code ec;
  // Linked sub-folders are followed, each real folder once (a link loop is reported, not walked).
  fs::recursive_directory_iterator it(
      dir, fs::directory_options::skip_permission_denied | fs::directory_options::follow_directory_symlink, ec),
      end;
  std::set<fs::path> visited = {fs::canonical(dir, ec)};
  if (ec) {
    warnings.push_back(fmt::format("folder '{}' cannot be read ({}), skipped", dir.string(), ec.message()));
    return files;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      warnings.push_back(fmt::format("cannot read under '{}' ({}), rest of it skipped", dir.string(), ec.message()));
      break;
    }
    const fs::path& p = it->path();
    if (it->is_directory(ec)) {
      if (it->is_symlink(ec) && !visited.insert(fs::canonical(p, ec)).second) {
        warnings.push_back(fmt::format("linked folder '{}' was already listed (a loop?), skipped", p.string()));
        it.disable_recursion_pending();
        continue;
      }
      if (::access(p.c_str(), R_OK | X_OK) != 0) {
        warnings.push_back(fmt::format("folder '{}' is unreadable, skipped", p.string()));
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!has_image_file_extension(p)) continue;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      warnings.push_back(fmt::format("image '{}': broken or looping link, skipped", p.string()));
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      warnings.push_back(fmt::format("'{}' is not a regular file, skipped", p.string()));
      continue;
    }
    files.push_back({p.lexically_relative(root).generic_string(), static_cast<int64_t>(st.st_size),
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec});
  }
  std::sort(files.begin(), files.end(), [](const Listed& a, const Listed& b) { return a.relative < b.relative; });
  return files;
}

}  // namespace

ImageFolder scan_image_folder(const fs::path& root, const ImageFolderOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) fail("image folder '{}': no such directory", root.string());
  if (::access(root.c_str(), R_OK | X_OK) != 0) fail("image folder '{}': cannot be read (permissions)", root.string());
  ImageFolder folder;
  folder.root = root.lexically_normal();  // no trailing '/': relative paths are computed lexically
  if (folder.root.filename().empty()) folder.root = folder.root.parent_path();

  std::vector<fs::path> identity_dirs;
  int64_t loose_files = 0;
  for (fs::directory_iterator it(folder.root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_directory(e)) {
      identity_dirs.push_back(it->path());
    } else if (it->is_symlink(e) && !fs::exists(it->path(), e)) {
      folder.warnings.push_back(fmt::format("'{}': broken or looping link, skipped", it->path().string()));
    } else if (has_image_file_extension(it->path())) {
      ++loose_files;
      if (loose_files <= 3)
        folder.warnings.push_back(
            fmt::format("image '{}' is not inside an identity folder, skipped", it->path().string()));
    }
  }
  if (ec) fail("image folder '{}' cannot be listed: {}", root.string(), ec.message());
  if (loose_files > 3)
    folder.warnings.push_back(fmt::format("{} images directly in '{}' (not inside identity folders) skipped in all",
                                          loose_files, root.string()));
  std::sort(identity_dirs.begin(), identity_dirs.end());

  Fnv1a hash;
  hash.update(fmt::format("image-folder v1 min={} max={}\n", options.min_images, options.max_images));
  std::vector<std::string> singles;
  for (const auto& dir : identity_dirs) {
    std::string name = dir.filename().string();
    auto files = list_identity(folder.root, dir, folder.warnings);
    if (files.empty()) {
      folder.warnings.push_back(fmt::format("identity '{}' has no images, skipped", name));
      continue;
    }
    if (static_cast<int64_t>(files.size()) < options.min_images) {
      folder.warnings.push_back(fmt::format("identity '{}' has {} image(s), fewer than the minimum {}, skipped", name,
                                            files.size(), options.min_images));
      continue;
    }
    if (options.max_images > 0 && static_cast<int64_t>(files.size()) > options.max_images)
      files.resize(static_cast<size_t>(options.max_images));
    if (files.size() == 1) singles.push_back(name);
    auto label = static_cast<int64_t>(folder.identities.size());
    folder.identities.push_back(name);
    for (const auto& f : files) {
      folder.paths.push_back(f.relative);
      folder.labels.push_back(label);
      hash.update(fmt::format("{}\t{}\t{}\n", f.relative, f.bytes, f.mtime_ns));
    }
  }
  if (!singles.empty()) {
    std::string names;
    for (size_t i = 0; i < singles.size() && i < 5; ++i) names += (i ? ", " : "") + singles[i];
    folder.warnings.push_back(fmt::format("{} identities have a single image (no positive pairs, negatives only): {}{}",
                                          singles.size(), names, singles.size() > 5 ? ", ..." : ""));
  }
  folder.fingerprint = hash.hex();
  return folder;
}

std::string pack_source_fingerprint(const ImageFolder& folder, int size) {
  return fingerprint(fmt::format("pack v{} {}x{} of image-folder {}", kPackVersion, size, size, folder.fingerprint));
}

}  // namespace face
