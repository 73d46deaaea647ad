#include "vision/dlib_stream.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "util/error.h"

namespace face {

void DlibStream::fail_at(const std::string& message) const {
  fail("{}: {} at byte {} (truncated, corrupt, or not the expected dlib file)", name_, message, pos_);
}

uint64_t DlibStream::magnitude(const char* what, bool& negative) {
  if (pos_ >= bytes_.size()) fail_at(fmt::format("end of file reading {}", what));
  auto control = static_cast<uint8_t>(bytes_[pos_]);
  negative = control & 0x80;
  size_t n = control & 0x0F;
  if (n == 0 || n > 8 || (control & 0x70)) fail_at(fmt::format("bad integer control byte {:#04x} reading {}", control, what));
  if (pos_ + 1 + n > bytes_.size()) fail_at(fmt::format("end of file reading {}", what));
  uint64_t value = 0;
  for (size_t i = n; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(bytes_[pos_ + 1 + i]);
  pos_ += 1 + n;
  return value;
}

int64_t DlibStream::integer(const char* what) {
  bool negative = false;
  uint64_t m = magnitude(what, negative);
  if (m > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail_at(fmt::format("integer overflow reading {}", what));
  return negative ? -static_cast<int64_t>(m) : static_cast<int64_t>(m);
}

uint64_t DlibStream::unsigned_integer(const char* what) {
  bool negative = false;  // dlib writes unsigned values without the sign bit; a set bit is corruption
  uint64_t m = magnitude(what, negative);
  if (negative) fail_at(fmt::format("negative value reading {}", what));
  return m;
}

double DlibStream::floating(const char* what) {
  int64_t mantissa = integer(what);
  int64_t exponent = integer(what);
  constexpr int64_t kInf = 32000, kNegInf = 32001, kNaN = 32002;  // dlib/float_details.h
  if (exponent == kInf) return std::numeric_limits<double>::infinity();
  if (exponent == kNegInf) return -std::numeric_limits<double>::infinity();
  if (exponent == kNaN) return std::numeric_limits<double>::quiet_NaN();
  if (exponent < -32768 || exponent > 32767) fail_at(fmt::format("bad exponent reading {}", what));
  return std::ldexp(static_cast<double>(mantissa), static_cast<int>(exponent));
}

bool DlibStream::boolean(const char* what) {
  char c = static_cast<char>(byte(what));
  if (c != '0' && c != '1') fail_at(fmt::format("bad bool reading {}", what));
  return c == '1';
}

uint8_t DlibStream::byte(const char* what) {
  if (pos_ >= bytes_.size()) fail_at(fmt::format("end of file reading {}", what));
  return static_cast<uint8_t>(bytes_[pos_++]);
}

std::string DlibStream::string(const char* what) {
  uint64_t n = unsigned_integer(what);
  if (n > bytes_.size() - pos_) fail_at(fmt::format("end of file reading {}", what));
  std::string s(bytes_.substr(pos_, n));
  pos_ += n;
  return s;
}

DlibTensor DlibStream::tensor(const char* what) {
  if (integer(what) != 2) fail_at(fmt::format("unknown tensor version reading {}", what));
  DlibTensor t;
  uint64_t count = 1;
  for (auto& d : t.shape) {
    d = integer(what);
    if (d < 0 || d > (int64_t(1) << 31)) fail_at(fmt::format("bad tensor size reading {}", what));
    count *= static_cast<uint64_t>(d);
  }
  if (count * 4 > bytes_.size() - pos_) fail_at(fmt::format("end of file reading {}", what));
  t.values.resize(count);
  static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);
  std::memcpy(t.values.data(), bytes_.data() + pos_, count * 4);  // little-endian host (x86, ARM)
  pos_ += count * 4;
  return t;
}

std::array<int64_t, 4> DlibStream::alias(const char* what) {
  if (integer(what) != 1) fail_at(fmt::format("unknown alias_tensor version reading {}", what));
  std::array<int64_t, 4> shape{};
  for (auto& d : shape) d = integer(what);
  return shape;
}

bool DlibStream::next_string_starts_with(std::string_view prefix) const {
  DlibStream probe = *this;
  try {
    return probe.string("a string").rfind(prefix, 0) == 0;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace face
