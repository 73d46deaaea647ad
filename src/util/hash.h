// hash.h: content fingerprints (FNV-1a, 64 bit) for packs, configs, models and pair lists.
// They detect change and mismatch, not tampering.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace face {

class Fnv1a {
 public:
  Fnv1a& update(const void* data, size_t size);
  Fnv1a& update(std::string_view text) { return update(text.data(), text.size()); }
  uint64_t value() const { return state_; }
  std::string hex() const;  // 16 lowercase hex digits

 private:
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

std::string fingerprint(std::string_view text);
std::string file_fingerprint(const std::filesystem::path& path);

}  // namespace face
