#include "model/embedder.h"

#include <torch/script.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "data/normalisation.h"
#include "model/inference_graph.h"
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

// The network's float input in the precision it runs in.
torch::Tensor network_input(const torch::Tensor& images_uint8, const torch::Device& device, Precision precision) {
  auto x = in_layout(to_model_input(images_uint8.to(device)), true);
  return precision == Precision::bf16 ? x.to(torch::kBFloat16) : x;
}

// The network's output as float unit rows on the CPU: a bf16 network's rows are normalised again
// in fp32 (their bf16 norm is 1 only to ~3 digits).
torch::Tensor embedding_rows(const torch::Tensor& out, Precision precision) {
  if (precision == Precision::fp32) return out.to(torch::kCPU);
  namespace F = torch::nn::functional;
  return F::normalize(out.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1)).to(torch::kCPU);
}

// A model's output as it leaves the embedder: one finite, unit-length row of `dim` numbers per
// image (`dim` 0: not yet known, while the first call finds it out). A TorchScript that returns
// NaN, its input, or unnormalised rows would otherwise give "distance nan: DIFFERENT", distances
// outside 0-4, and NaN rows in galleries; face::Error naming the model instead.
torch::Tensor checked_embeddings(const torch::Tensor& rows, int64_t images, int64_t dim, const std::string& model) {
  if (rows.dim() != 2 || rows.size(0) != images)
    fail("model {} returned a tensor of shape {}, not one embedding row per image ({} images): is it an embedding "
         "model?", model, c10::str(rows.sizes()), images);
  if (dim > 0 && rows.size(1) != dim)
    fail("model {} returned {}-d embeddings where it declares {}-d", model, rows.size(1), dim);
  if (!rows.is_floating_point()) fail("model {} returned {} values, not floating-point embeddings", model,
         c10::toString(rows.scalar_type()));
  torch::Tensor values = rows.to(torch::kFloat32);
  if (!torch::isfinite(values).all().item<bool>()) fail("model {} returned NaN or infinite embeddings", model);
  if (rows.size(0) > 0) {
    // bf16 networks have their rows normalised again in fp32: every row is unit length to ~1e-6.
    const double worst = (values.norm(2, 1) - 1).abs().max().item<double>();
    if (worst > 1e-3)
      fail("model {} returned embeddings that are not unit length (a norm off by {:.3g}): distances between them "
           "would not be squared L2 of unit vectors", model, worst);
  }
  return rows;
}

// Any C++ module: nn4 (batch norm folded, and the fused LRN kernel that a traced graph cannot
// hold: model/local_response_norm.h) or dlib's ResNet.
class ModuleEmbedder : public Embedder {
 public:
  ModuleEmbedder(std::shared_ptr<torch::nn::Module> module, std::function<torch::Tensor(const torch::Tensor&)> forward,
                 std::map<std::string, std::string> metadata, torch::Device device, std::string description,
                 Precision precision)
      : module_(std::move(module)), forward_(std::move(forward)), metadata_(std::move(metadata)), device_(device),
        description_(std::move(description)), precision_(precision) {
    for (const char* key : {"arch", "embedding_dim", "input_size", "weights_fingerprint"})
      if (metadata_[key].empty()) fail("embedder '{}': no {} given", description_, key);
    dim_ = std::stoll(metadata_["embedding_dim"]);
    size_ = std::stoll(metadata_["input_size"]);
    module_->to(device_);
    if (precision_ == Precision::bf16) module_->to(torch::kBFloat16);
    module_->eval();
    use_channels_last(*module_);  // the fast layout on CPU and CUDA (model/memory_format.h)
  }
  torch::Tensor embed(const torch::Tensor& images) override {
    torch::InferenceMode inference;
    return checked_embeddings(embedding_rows(forward_(network_input(images, device_, precision_)), precision_),
                              images.size(0), dim_, description_);
  }
  int64_t embedding_dim() const override { return dim_; }
  int64_t input_size() const override { return size_; }
  Precision precision() const override { return precision_; }
  std::string fingerprint() const override { return metadata_.at("weights_fingerprint"); }
  std::string description() const override { return description_; }
  std::string metadata(const std::string& key) const override {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? "" : it->second;
  }

 private:
  std::shared_ptr<torch::nn::Module> module_;
  std::function<torch::Tensor(const torch::Tensor&)> forward_;
  std::map<std::string, std::string> metadata_;
  torch::Device device_;
  std::string description_;
  Precision precision_;
  int64_t dim_ = 0, size_ = 0;
};

// nn4 for inference: batch norm folded; `metadata` (an export's) is kept beside what the model says.
std::unique_ptr<Embedder> nn4_embedder(LoadedModel loaded, const torch::Device& device, Precision precision,
                                       std::string description, std::map<std::string, std::string> metadata = {}) {
  Nn4 model = loaded.model;
  metadata["arch"] = model->options().arch();
  metadata["embedding_dim"] = std::to_string(model->options().embedding_dim());
  metadata["input_size"] = std::to_string(kInputSize);
  metadata["weights_fingerprint"] = loaded.fingerprint;
  model->eval();
  model->fold_batch_norm();
  return module_embedder(model.ptr(), [model](const torch::Tensor& x) mutable { return model->forward(x); },
                         std::move(metadata), device, std::move(description), precision);
}

// Any other TorchScript module (dlib's ResNet exported): its frozen graph (model/inference_graph.h).
class ScriptEmbedder : public Embedder {
 public:
  ScriptEmbedder(const torch::jit::Module& module, std::map<std::string, std::string> metadata, torch::Device device,
                 std::string path, Precision precision)
      : graph_(inference_graph(in_precision(module, precision), device)), metadata_(std::move(metadata)), device_(device),
        path_(std::move(path)), precision_(precision) {
    if (metadata_.count("input_size")) size_ = std::stoll(metadata_["input_size"]);
    dim_ = embed(torch::zeros({1, 3, size_, size_}, torch::kUInt8)).size(1);
    fingerprint_ = metadata_.count("weights_fingerprint") ? metadata_["weights_fingerprint"] : "unknown";
  }
  torch::Tensor embed(const torch::Tensor& images) override {
    torch::InferenceMode inference;
    return checked_embeddings(
        embedding_rows(graph_.forward({network_input(images, device_, precision_)}).toTensor(), precision_),
        images.size(0), dim_, description());
  }
  int64_t embedding_dim() const override { return dim_; }
  int64_t input_size() const override { return size_; }
  Precision precision() const override { return precision_; }
  std::string fingerprint() const override { return fingerprint_; }
  std::string description() const override { return "TorchScript " + path_; }
  std::string metadata(const std::string& key) const override {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? "" : it->second;
  }

 private:
  // A bf16 copy of `module` (its weights rounded before freezing), or the module itself.
  static torch::jit::Module in_precision(const torch::jit::Module& module, Precision precision) {
    if (precision == Precision::fp32) return module;
    auto copy = module.clone();
    copy.to(torch::kBFloat16);
    return copy;
  }

  torch::jit::Module graph_;
  std::map<std::string, std::string> metadata_;
  torch::Device device_;
  std::string path_, fingerprint_;
  Precision precision_;
  int64_t dim_ = 0, size_ = 96;
};

// The module's string and number attributes (an export's metadata, deploy/export.h), as text.
std::map<std::string, std::string> script_metadata(const torch::jit::Module& module) {
  std::map<std::string, std::string> metadata;
  for (const auto& a : module.named_attributes(/*recurse=*/false)) {
    if (a.value.isString()) metadata[a.name] = a.value.toStringRef();
    else if (a.value.isDouble()) metadata[a.name] = fmt::format("{}", a.value.toDouble());
    else if (a.value.isInt()) metadata[a.name] = std::to_string(a.value.toInt());
  }
  return metadata;
}

// An exported nn4 back in the C++ module, so that it runs the fast path above: the export holds
// every parameter and buffer under its dotted name with '.' -> '_' (model/traced_network.h).
// Empty when the module is not an nn4 of a known shape or its weights do not check out.
std::optional<LoadedModel> nn4_from_script(const torch::jit::Module& module,
                                           const std::map<std::string, std::string>& metadata) {
  auto arch = metadata.find("arch"), dim = metadata.find("embedding_dim"), fp = metadata.find("weights_fingerprint");
  if (arch == metadata.end() || dim == metadata.end() || fp == metadata.end()) return std::nullopt;
  auto known = nn4_architectures();
  if (std::find(known.begin(), known.end(), arch->second) == known.end()) return std::nullopt;
  Nn4 model(Nn4Options(arch->second).embedding_dim(std::stoll(dim->second)));
  torch::NoGradGuard no_grad;
  auto copy_from_module = [&](const std::string& dotted, torch::Tensor& target) {
    std::string name = dotted;
    std::replace(name.begin(), name.end(), '.', '_');
    if (!module.hasattr(name) || !module.attr(name).isTensor()) return false;
    auto source = module.attr(name).toTensor();
    if (!source.sizes().equals(target.sizes())) return false;
    target.copy_(source);
    return true;
  };
  for (auto& p : model->named_parameters())
    if (!copy_from_module(p.key(), p.value())) return std::nullopt;
  for (auto& b : model->named_buffers())
    if (!copy_from_module(b.key(), b.value())) return std::nullopt;
  if (weights_fingerprint(*model) != fp->second) return std::nullopt;
  return LoadedModel{model, fp->second};
}

}  // namespace

std::unique_ptr<Embedder> module_embedder(std::shared_ptr<torch::nn::Module> module,
                                          std::function<torch::Tensor(const torch::Tensor&)> forward,
                                          std::map<std::string, std::string> metadata, const torch::Device& device,
                                          std::string description, Precision precision) {
  return std::make_unique<ModuleEmbedder>(std::move(module), std::move(forward), std::move(metadata), device,
                                          std::move(description), precision);
}

namespace {

torch::jit::Module load_script(const std::filesystem::path& path) {
  try {
    return torch::jit::load(path.string(), torch::kCPU);
  } catch (const c10::Error& e) {
    fail("'{}' is neither a facenet-cpp checkpoint nor a TorchScript module: {}", path.string(),
         e.what_without_backtrace());
  }
}

}  // namespace

std::unique_ptr<Embedder> load_embedder(const std::filesystem::path& path, const torch::Device& device,
                                        Precision precision) {
  if (!std::filesystem::exists(path)) fail("model '{}' does not exist", path.string());
  if (is_model_file(path)) {
    LoadedModel loaded = load_model_file(path, device);
    std::string arch = loaded.model->options().arch();
    return nn4_embedder(std::move(loaded), device, precision, arch + " " + path.string());
  }
  torch::jit::Module module = load_script(path);
  auto metadata = script_metadata(module);
  if (auto nn4 = nn4_from_script(module, metadata)) {
    std::string arch = nn4->model->options().arch();
    return nn4_embedder(std::move(*nn4), device, precision, arch + " export " + path.string(), std::move(metadata));
  }
  return std::make_unique<ScriptEmbedder>(module, std::move(metadata), device, path.string(), precision);
}

LoadedModel load_nn4(const std::filesystem::path& path, const torch::Device& device) {
  if (!std::filesystem::exists(path)) fail("model '{}' does not exist", path.string());
  if (is_model_file(path)) return load_model_file(path, device);
  torch::jit::Module module = load_script(path);
  auto nn4 = nn4_from_script(module, script_metadata(module));
  if (!nn4) fail("'{}' is not an nn4 export (no arch, embedding_dim and matching weights_fingerprint)", path.string());
  nn4->model->to(device);
  return std::move(*nn4);
}

std::unique_ptr<Embedder> random_embedder(const std::string& arch, uint64_t seed, const torch::Device& device,
                                          Precision precision) {
  Nn4 model(Nn4Options(arch).seed(seed));
  LoadedModel loaded{model, weights_fingerprint(*model)};
  return nn4_embedder(std::move(loaded), device, precision, fmt::format("untrained {} (seed {})", arch, seed));
}

}  // namespace face
