#include "util/hash.h"

#include <fmt/format.h>

#include "util/atomic_file.h"

namespace face {

Fnv1a& Fnv1a::update(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = state_;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  state_ = h;
  return *this;
}

std::string Fnv1a::hex() const { return fmt::format("{:016x}", state_); }

std::string fingerprint(std::string_view text) { return Fnv1a().update(text).hex(); }

std::string file_fingerprint(const std::filesystem::path& path) { return fingerprint(read_file(path)); }

}  // namespace face
