// atomic_file.h: crash-safe file replacement.
//
// A crash, a kill or a full disk leaves either the previous file or the complete new one at
// `path`, never a mixture: the content goes to a temporary name beside it, is flushed and
// fsync'ed, then renamed over `path` (rename is atomic within a directory), and the directory is
// fsync'ed so the rename itself survives a power cut. On any failure the temporary is removed and
// face::Error names the path and the OS reason.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace face {

// Writes `bytes` to `path` atomically.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

// For writers that insist on a file name of their own (torch::save, cv::imwrite): `write` fills
// the temporary path it is given; the result is then synced and renamed to `path`.
void write_atomic(const std::filesystem::path& path,
                  const std::function<void(const std::filesystem::path& tmp)>& write);

// Reads a whole file; face::Error naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace face
