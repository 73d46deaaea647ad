#include "model/model_file.h"

#include "util/atomic_file.h"
#include "util/checked_writer.h"
#include "util/error.h"
#include "util/hash.h"

namespace face {

namespace {
constexpr const char* kFormat = "facenet-cpp";
constexpr int64_t kFormatVersion = 1;

std::string read_string(torch::serialize::InputArchive& archive, const char* key, const std::string& source) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isString()) fail("'{}': missing or malformed entry '{}'", source, key);
  return value.toStringRef();
}

int64_t read_int(torch::serialize::InputArchive& archive, const char* key, const std::string& source) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isInt()) fail("'{}': missing or malformed entry '{}'", source, key);
  return value.toInt();
}
}  // namespace

void write_model_entries(torch::serialize::OutputArchive& archive, Nn4& model) {
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("format_version", c10::IValue(kFormatVersion));
  archive.write("model_arch", c10::IValue(model->options().arch()));
  archive.write("model_embedding_dim", c10::IValue(model->options().embedding_dim()));
  torch::serialize::OutputArchive weights;
  model->save(weights);
  archive.write("model", weights);
}

LoadedModel read_model_entries(torch::serialize::InputArchive& archive, const std::string& source) {
  if (read_string(archive, "format", source) != kFormat) fail("'{}' is not a facenet-cpp model file", source);
  int64_t version = read_int(archive, "format_version", source);
  if (version != kFormatVersion) fail("'{}': format version {} is not supported (expected {})", source, version, kFormatVersion);
  Nn4Options options(read_string(archive, "model_arch", source));
  options.embedding_dim(read_int(archive, "model_embedding_dim", source));
  LoadedModel loaded{Nn4(options), ""};
  torch::serialize::InputArchive weights;
  if (!archive.try_read("model", weights)) fail("'{}': no 'model' weights", source);
  try {
    loaded.model->load(weights);
  } catch (const c10::Error& e) {
    fail("'{}': weights do not match architecture {}: {}", source, options.arch(), e.what_without_backtrace());
  }
  loaded.fingerprint = weights_fingerprint(*loaded.model);
  return loaded;
}

void save_model_file(const std::filesystem::path& path, Nn4& model) {
  torch::serialize::OutputArchive archive;
  write_model_entries(archive, model);
  write_atomic(path, [&](const std::filesystem::path& tmp) {
    write_checked(tmp, path, "model file", [&](const ByteWriter& writer) { archive.save_to(writer); });
  });
}

LoadedModel load_model_file(const std::filesystem::path& path, const torch::Device& device) {
  if (!std::filesystem::exists(path)) fail("model file '{}' does not exist", path.string());
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path.string(), torch::kCPU);
  } catch (const c10::Error& e) {
    fail("cannot read model file '{}' (damaged or not a LibTorch archive): {}", path.string(), e.what_without_backtrace());
  }
  LoadedModel loaded = read_model_entries(archive, path.string());
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

bool is_model_file(const std::filesystem::path& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path.string(), torch::kCPU);
    c10::IValue value;
    return archive.try_read("format", value) && value.isString() && value.toStringRef() == kFormat;
  } catch (const c10::Error&) {
    return false;
  }
}

std::string weights_fingerprint(const torch::nn::Module& model) {
  Fnv1a hash;
  auto add = [&](const torch::Tensor& t) {
    auto cpu = t.detach().to(torch::kCPU).contiguous();
    hash.update(cpu.data_ptr(), cpu.numel() * cpu.element_size());
  };
  for (const auto& p : model.parameters()) add(p);
  for (const auto& b : model.buffers()) add(b);
  return hash.hex();
}

}  // namespace face
