#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace face {
namespace fs = std::filesystem;

namespace {

void fsync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) fail("cannot open '{}' to sync it: {}", path.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories (EINVAL); the data itself is already synced.
  if (rc != 0 && !(directory && err == EINVAL))
    fail("cannot sync '{}': {}", path.string(), std::strerror(err));
}

fs::path temporary_beside(const fs::path& path) {
  return path.parent_path() / fmt::format(".{}.tmp.{}", path.filename().string(), ::getpid());
}

}  // namespace

void write_atomic(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create directory '{}' for '{}': {}", dir.string(), path.string(), ec.message());
  fs::path tmp = temporary_beside(path);
  try {
    write(tmp);
    fsync_path(tmp, false);
    fs::rename(tmp, path, ec);
    if (ec) fail("cannot rename '{}' to '{}': {}", tmp.string(), path.string(), ec.message());
    fsync_path(dir, true);
  } catch (const Error&) {
    fs::remove(tmp, ec);
    throw;
  } catch (const std::exception& e) {
    fs::remove(tmp, ec);
    fail("cannot write '{}': {}", path.string(), e.what());
  }
}

void write_file_atomic(const fs::path& path, const std::string& bytes) {
  write_atomic(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create '{}': {}", tmp.string(), std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) fail("cannot write '{}' (disk full?): {}", tmp.string(), std::strerror(errno));
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}': {}", path.string(), std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("cannot read '{}': {}", path.string(), std::strerror(errno));
  return buffer.str();
}

}  // namespace face
