#include "util/checked_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace face {

void write_checked(const std::filesystem::path& tmp, const std::filesystem::path& path, const std::string& what,
                   const std::function<void(const ByteWriter& writer)>& serialise) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create '{}' for {} '{}': {}", tmp.string(), what, path.string(), std::strerror(errno));
  int error = 0;
  ByteWriter writer = [&](const void* data, size_t size) -> size_t {
    const char* p = static_cast<const char*>(data);
    for (size_t left = size; left > 0 && error == 0;) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = n < 0 ? errno : EIO;
      } else {
        p += n;
        left -= static_cast<size_t>(n);
      }
    }
    return size;  // claims success: the serialiser finishes quietly and the error is raised below
  };
  try {
    serialise(writer);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error)
    fail("cannot write {} '{}': {}{}", what, path.string(), std::strerror(error),
         error == ENOSPC || error == EFBIG || error == EDQUOT
             ? " (disk full or file size limit); the previous files are intact"
             : "");
}

}  // namespace face
