#include "deploy/gallery/person_name.h"

#include <fmt/format.h>

namespace face {

namespace {

// The code point starting at s[i] and its length in bytes; length 0 for an invalid sequence
// (a stray continuation byte, a truncated one, an overlong form, a surrogate, beyond U+10FFFF).
std::pair<char32_t, size_t> decode_utf8(const std::string& s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, 1};
  size_t length = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (length == 0 || i + length > s.size()) return {0, 0};
  char32_t v = c & (0xFF >> (length + 1));
  for (size_t k = 1; k < length; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return {0, 0};
    v = (v << 6) | (d & 0x3F);
  }
  static const char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kSmallest[length] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return {0, 0};
  return {v, length};
}

bool refused_character(char32_t v) {
  return v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0x2028 || v == 0x2029 || (v >= 0x202A && v <= 0x202E) ||
         (v >= 0x2066 && v <= 0x2069);
}

}  // namespace

std::string person_name_problem(const std::string& name) {
  if (name.empty()) return "is empty";
  for (size_t i = 0; i < name.size();) {
    auto [v, length] = decode_utf8(name, i);
    if (length == 0) return fmt::format("is not valid UTF-8 (byte {})", i + 1);
    if (refused_character(v))
      return fmt::format("holds the control character U+{:04X} (a newline, tab, direction override, ...)",
                         static_cast<uint32_t>(v));
    i += length;
  }
  return "";
}

}  // namespace face
