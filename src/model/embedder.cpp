#include "model/embedder.h"

#include <torch/script.h>

#include <fmt/format.h>

#include "data/normalisation.h"
#include "model/memory_format.h"
#include "model/model_file.h"
#include "util/error.h"

namespace face {

torch::Tensor Embedder::embed_all(const torch::Tensor& images_uint8, int64_t batch_size) {
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < images_uint8.size(0); start += batch_size)
    parts.push_back(embed(images_uint8.slice(0, start, std::min(start + batch_size, images_uint8.size(0)))));
  if (parts.empty()) return torch::empty({0, embedding_dim()});
  return torch::cat(parts);
}

namespace {

class Nn4Embedder : public Embedder {
 public:
  Nn4Embedder(LoadedModel loaded, torch::Device device, std::string description)
      : loaded_(std::move(loaded)), device_(device), description_(std::move(description)) {
    loaded_.model->to(device_);
    loaded_.model->eval();
    use_channels_last(*loaded_.model);  // the fast layout on CPU and CUDA (model/memory_format.h)
  }
  torch::Tensor embed(const torch::Tensor& images) override {
    torch::NoGradGuard no_grad;
    return loaded_.model->forward(in_layout(to_model_input(images.to(device_)), true)).to(torch::kCPU);
  }
  int64_t embedding_dim() const override { return loaded_.model->options().embedding_dim(); }
  std::string fingerprint() const override { return loaded_.fingerprint; }
  std::string description() const override { return description_; }
  std::string metadata(const std::string& key) const override {
    if (key == "arch") return loaded_.model->options().arch();
    if (key == "embedding_dim") return std::to_string(loaded_.model->options().embedding_dim());
    if (key == "weights_fingerprint") return loaded_.fingerprint;
    return "";
  }

 private:
  LoadedModel loaded_;
  torch::Device device_;
  std::string description_;
};

class ScriptEmbedder : public Embedder {
 public:
  ScriptEmbedder(torch::jit::Module module, torch::Device device, std::string path)
      : module_(std::move(module)), device_(device), path_(std::move(path)) {
    module_.to(device_);
    module_.eval();
    torch::NoGradGuard no_grad;
    if (module_.hasattr("input_size") && module_.attr("input_size").isInt()) size_ = module_.attr("input_size").toInt();
    dim_ = embed(torch::zeros({1, 3, size_, size_}, torch::kUInt8)).size(1);
    fingerprint_ = module_.hasattr("weights_fingerprint") ? module_.attr("weights_fingerprint").toStringRef() : "unknown";
  }
  torch::Tensor embed(const torch::Tensor& images) override {
    torch::NoGradGuard no_grad;
    return module_.forward({to_model_input(images.to(device_))}).toTensor().to(torch::kCPU);
  }
  int64_t embedding_dim() const override { return dim_; }
  int64_t input_size() const override { return size_; }
  std::string fingerprint() const override { return fingerprint_; }
  std::string description() const override { return "TorchScript " + path_; }
  std::string metadata(const std::string& key) const override {
    if (!module_.hasattr(key)) return "";
    c10::IValue value = module_.attr(key);
    if (value.isString()) return value.toStringRef();
    if (value.isDouble()) return fmt::format("{}", value.toDouble());
    if (value.isInt()) return std::to_string(value.toInt());
    return "";
  }

 private:
  torch::jit::Module module_;
  torch::Device device_;
  std::string path_, fingerprint_;
  int64_t dim_ = 0, size_ = 96;
};

}  // namespace

std::unique_ptr<Embedder> load_embedder(const std::filesystem::path& path, const torch::Device& device) {
  if (!std::filesystem::exists(path)) fail("model '{}' does not exist", path.string());
  if (is_model_file(path)) {
    LoadedModel loaded = load_model_file(path, device);
    std::string arch = loaded.model->options().arch();
    return std::make_unique<Nn4Embedder>(std::move(loaded), device, arch + " " + path.string());
  }
  try {
    return std::make_unique<ScriptEmbedder>(torch::jit::load(path.string(), device), device, path.string());
  } catch (const c10::Error& e) {
    fail("'{}' is neither a facenet-cpp checkpoint nor a TorchScript module: {}", path.string(),
         e.what_without_backtrace());
  }
}

std::unique_ptr<Embedder> random_embedder(const std::string& arch, uint64_t seed, const torch::Device& device) {
  Nn4 model(Nn4Options(arch).seed(seed));
  LoadedModel loaded{model, weights_fingerprint(*model)};
  return std::make_unique<Nn4Embedder>(std::move(loaded), device, fmt::format("untrained {} (seed {})", arch, seed));
}

}  // namespace face
