#include "util/npy.h"

#include <cstring>
#include <regex>

#include "util/atomic_file.h"
#include "util/error.h"

namespace face {

void write_npy(const std::filesystem::path& path, const torch::Tensor& matrix) {
  if (matrix.dim() != 2) fail("write_npy '{}': expected a 2-D tensor, got {}-D", path.string(), matrix.dim());
  torch::Tensor m = matrix.to(torch::kCPU, torch::kFloat32).contiguous();
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
                                   m.size(0), m.size(1));
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64.
  size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  bytes.push_back(static_cast<char>(len & 0xff));
  bytes.push_back(static_cast<char>(len >> 8));
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(m.data_ptr<float>()), m.numel() * sizeof(float));
  write_file_atomic(path, bytes);
}

torch::Tensor read_npy(const std::filesystem::path& path) {
  std::string bytes = read_file(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) fail("'{}' is not a .npy file", path.string());
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    if (bytes.size() < 12) fail("'{}': truncated .npy header", path.string());
    uint32_t l;
    std::memcpy(&l, bytes.data() + 8, 4);
    header_len = l;
    offset = 12;
  }
  if (bytes.size() < offset + header_len) fail("'{}': truncated .npy header", path.string());
  std::string header = bytes.substr(offset, header_len);
  offset += header_len;
  std::smatch descr, shape;
  if (!std::regex_search(header, descr, std::regex("'descr':\\s*'([<>|]?)(f4|f8)'")))
    fail("'{}': only float32/float64 .npy is supported (header: {})", path.string(), header);
  if (descr[1] == ">") fail("'{}': big-endian .npy is not supported", path.string());
  if (header.find("'fortran_order': True") != std::string::npos)
    fail("'{}': Fortran-order .npy is not supported", path.string());
  if (!std::regex_search(header, shape, std::regex("'shape':\\s*\\((\\d+),\\s*(\\d+)\\)")))
    fail("'{}': expected a 2-D array (header: {})", path.string(), header);
  int64_t rows = std::stoll(shape[1]), cols = std::stoll(shape[2]);
  bool f8 = descr[2] == "f8";
  size_t need = static_cast<size_t>(rows * cols) * (f8 ? 8 : 4);
  if (bytes.size() - offset < need)
    fail("'{}': truncated data ({} bytes, {} expected)", path.string(), bytes.size() - offset, need);
  auto t = torch::empty({rows, cols}, f8 ? torch::kFloat64 : torch::kFloat32);
  std::memcpy(t.data_ptr(), bytes.data() + offset, need);
  return t.to(torch::kFloat32);
}

}  // namespace face
