// dlib_stream.h: a reader of dlib's serialisation format (dlib/serialize.h), for files whose
// network type is not compiled in: the MMOD face detector (vision/mmod_detector.h) is read layer
// by layer, as the file describes it, instead of into a fixed dlib::loss_mmod<...> type.
//
// The primitives, as dlib writes them:
//   integers   one control byte (low 4 bits: byte count n <= 8; bit 7: negative), then n bytes of
//              the magnitude, little-endian
//   floating   two integers, a 64-bit mantissa m and a 16-bit exponent e: m * 2^e (e = 32000,
//              32001, 32002: +inf, -inf, NaN); dlib's older ASCII form is not read
//   bool       the character '0' or '1'; unsigned char: the byte itself
//   string     an integer length, then the bytes
//   tensor     integer version 2, four integers (samples, k, rows, columns), then the values as
//              4-byte little-endian IEEE floats
//   alias      integer version 1, four integers (an alias_tensor's shape, no data)
//
// requires: the bytes stay alive as long as the reader.
// ensures: every read either returns the value and advances, or throws face::Error naming the
// file (`name`), the byte offset and what was being read.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace face {

struct DlibTensor {
  std::array<int64_t, 4> shape{};  // num_samples, k, nr, nc
  std::vector<float> values;
};

class DlibStream {
 public:
  DlibStream(std::string_view bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}

  int64_t integer(const char* what);
  uint64_t unsigned_integer(const char* what);
  double floating(const char* what);
  bool boolean(const char* what);
  uint8_t byte(const char* what);
  std::string string(const char* what);
  DlibTensor tensor(const char* what);
  std::array<int64_t, 4> alias(const char* what);

  // Whether a string starting with `prefix` comes next (nothing is consumed).
  bool next_string_starts_with(std::string_view prefix) const;

  size_t offset() const { return pos_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  [[noreturn]] void fail_at(const std::string& message) const;

 private:
  uint64_t magnitude(const char* what, bool& negative);
  std::string_view bytes_;
  std::string name_;
  size_t pos_ = 0;
};

}  // namespace face
