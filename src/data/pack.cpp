#include "data/pack.h"

#include <cstring>
#include <fstream>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"

namespace face {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'F', 'A', 'C', 'E', 'P', 'A', 'C', 'K'};

// Writes through to a stream while hashing everything written.
struct HashingWriter {
  std::ofstream& out;
  Fnv1a hash;
  void bytes(const void* data, size_t size) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    hash.update(data, size);
  }
  template <class T>
  void value(T v) { bytes(&v, sizeof(T)); }
  void string(const std::string& s) {
    value<uint32_t>(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
};

struct HashingReader {
  std::ifstream& in;
  const std::string& source;
  Fnv1a hash;
  void bytes(void* data, size_t size) {
    in.read(static_cast<char*>(data), static_cast<std::streamsize>(size));
    if (static_cast<size_t>(in.gcount()) != size) fail("pack '{}' is truncated", source);
    hash.update(data, size);
  }
  template <class T>
  T value() {
    T v;
    bytes(&v, sizeof(T));
    return v;
  }
  std::string string(uint32_t max_length = 1 << 20) {
    auto n = value<uint32_t>();
    if (n > max_length) fail("pack '{}' is corrupt (string of {} bytes)", source, n);
    std::string s(n, '\0');
    bytes(s.data(), n);
    return s;
  }
};

struct Header {
  uint32_t channels, height, width;
  uint64_t count;
  std::vector<std::string> identities, paths;
  std::string fingerprint;
};

Header read_header(HashingReader& r) {
  char magic[8];
  r.bytes(magic, 8);
  if (std::memcmp(magic, kMagic, 8) != 0) fail("'{}' is not a face pack", r.source);
  auto version = r.value<uint32_t>();
  if (version != kPackVersion)
    fail("pack '{}' has format version {}, this build reads {}: rebuild it", r.source, version, kPackVersion);
  Header h;
  h.channels = r.value<uint32_t>();
  h.height = r.value<uint32_t>();
  h.width = r.value<uint32_t>();
  h.count = r.value<uint64_t>();
  if (h.channels != 3 || h.height == 0 || h.width == 0 || h.height > 4096 || h.width > 4096 || h.count > (1ull << 32))
    fail("pack '{}' is corrupt (header {}x{}x{}, {} images)", r.source, h.channels, h.height, h.width, h.count);
  auto identity_count = r.value<uint64_t>();
  if (identity_count > h.count + 1) fail("pack '{}' is corrupt ({} identities)", r.source, identity_count);
  for (uint64_t i = 0; i < identity_count; ++i) h.identities.push_back(r.string());
  for (uint64_t i = 0; i < h.count; ++i) h.paths.push_back(r.string());
  h.fingerprint = r.string();
  return h;
}

}  // namespace

void save_pack(const fs::path& path, const Pack& pack) {
  const auto& images = pack.images;
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3 || images.scalar_type() != torch::kUInt8)
    fail("save_pack '{}': images must be uint8 (N, 3, H, W)", path.string());
  int64_t n = images.size(0);
  if (pack.labels.numel() != n || static_cast<int64_t>(pack.paths.size()) != n)
    fail("save_pack '{}': {} images but {} labels and {} paths", path.string(), n, pack.labels.numel(), pack.paths.size());
  auto labels = pack.labels.to(torch::kCPU, torch::kInt32).contiguous();
  if (n > 0 && (labels.min().item<int>() < 0 || labels.max().item<int>() >= static_cast<int>(pack.identities.size())))
    fail("save_pack '{}': a label is outside the {} identities", path.string(), pack.identities.size());
  auto pixels = images.to(torch::kCPU).contiguous();

  write_atomic(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create '{}'", tmp.string());
    HashingWriter w{out, {}};
    w.bytes(kMagic, 8);
    w.value<uint32_t>(kPackVersion);
    w.value<uint32_t>(3);
    w.value<uint32_t>(static_cast<uint32_t>(images.size(2)));
    w.value<uint32_t>(static_cast<uint32_t>(images.size(3)));
    w.value<uint64_t>(static_cast<uint64_t>(n));
    w.value<uint64_t>(pack.identities.size());
    for (const auto& name : pack.identities) w.string(name);
    for (const auto& p : pack.paths) w.string(p);
    w.string(pack.source_fingerprint);
    w.bytes(labels.data_ptr<int32_t>(), n * sizeof(int32_t));
    w.bytes(pixels.data_ptr<uint8_t>(), pixels.numel());
    uint64_t checksum = w.hash.value();
    out.write(reinterpret_cast<const char*>(&checksum), sizeof(checksum));
    out.flush();
    if (!out) fail("cannot write pack '{}' (disk full?)", tmp.string());
  });
}

Pack load_pack(const fs::path& path, const std::string& expected_fingerprint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open pack '{}'", path.string());
  HashingReader r{in, path.string(), {}};
  Header h = read_header(r);
  if (!expected_fingerprint.empty() && h.fingerprint != expected_fingerprint)
    fail("pack '{}' is stale: built from source {}, the source is now {}", path.string(), h.fingerprint,
         expected_fingerprint);
  Pack pack;
  auto labels = torch::empty({static_cast<int64_t>(h.count)}, torch::kInt32);
  r.bytes(labels.data_ptr<int32_t>(), h.count * sizeof(int32_t));
  pack.images = torch::empty({static_cast<int64_t>(h.count), 3, h.height, h.width}, torch::kUInt8);
  r.bytes(pack.images.data_ptr<uint8_t>(), pack.images.numel());
  uint64_t stored = 0;
  in.read(reinterpret_cast<char*>(&stored), sizeof(stored));
  if (in.gcount() != sizeof(stored)) fail("pack '{}' is truncated (no checksum)", path.string());
  if (stored != r.hash.value()) fail("pack '{}' is corrupt (checksum mismatch)", path.string());
  pack.labels = labels.to(torch::kInt64);
  if (h.count > 0 && (pack.labels.min().item<int64_t>() < 0 ||
                      pack.labels.max().item<int64_t>() >= static_cast<int64_t>(h.identities.size())))
    fail("pack '{}' is corrupt (label out of range)", path.string());
  pack.identities = std::move(h.identities);
  pack.paths = std::move(h.paths);
  pack.source_fingerprint = std::move(h.fingerprint);
  return pack;
}

std::string read_pack_fingerprint(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open pack '{}'", path.string());
  HashingReader r{in, path.string(), {}};
  return read_header(r).fingerprint;
}

}  // namespace face
