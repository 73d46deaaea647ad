// embedder.h: anything that turns aligned face images into unit embeddings.
//
// embed, evaluate, verify and identify all work through this interface, so they accept either a
// facenet-cpp checkpoint / model file or an exported TorchScript module (deploy/export.h).
//
//   input   uint8 (m, 3, S, S) RGB, as stored in packs and produced by alignment; S is
//           input_size(): 96 for nn4, 150 for dlib's ResNet (model/dlib_resnet.h)
//   output  float (m, D) on the CPU, rows L2-normalised
//
// Precision (model/precision.h): an embedder opened in bf16 holds its weights in bf16 (batch
// norm folded in fp32 first, so the weights are rounded once, not every call), runs the network
// in bf16 and normalises the rows in fp32.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "model/model_file.h"
#include "model/precision.h"

namespace face {

class Embedder {
 public:
  virtual ~Embedder() = default;
  // One batch; images are converted to float [0, 1] (data/normalisation.h) on the model's device.
  virtual torch::Tensor embed(const torch::Tensor& images_uint8) = 0;
  virtual int64_t embedding_dim() const = 0;
  virtual int64_t input_size() const { return 96; }  // side of the square faces it takes
  virtual std::string fingerprint() const = 0;  // identifies the weights
  virtual std::string description() const = 0;  // e.g. "nn4.small2 checkpoint run/ckpt.pt"
  // What the model file records about itself (deploy/export.h: "threshold", "align_recipe",
  // "arch", ...), as text; empty when it records no such key.
  virtual std::string metadata(const std::string& key) const { return ""; }
  virtual Precision precision() const { return Precision::fp32; }

  // Embeds any number of images in batches of `batch_size`.
  torch::Tensor embed_all(const torch::Tensor& images_uint8, int64_t batch_size = 64);
};

// An Embedder over a C++ module, in eval mode, channels-last, on `device`. `forward` maps float
// [0, 1] RGB (m, 3, S, S) to unit rows; `metadata` answers metadata() and must hold "arch",
// "embedding_dim", "input_size" and "weights_fingerprint".
std::unique_ptr<Embedder> module_embedder(std::shared_ptr<torch::nn::Module> module,
                                          std::function<torch::Tensor(const torch::Tensor&)> forward,
                                          std::map<std::string, std::string> metadata, const torch::Device& device,
                                          std::string description, Precision precision = Precision::fp32);

// Opens a facenet-cpp model file or checkpoint, or a TorchScript module, on `device`. nn4 runs
// with batch norm folded into its convolutions (model/nn4.h), an exported nn4 included; other
// TorchScript modules run as frozen graphs (model/inference_graph.h).
std::unique_ptr<Embedder> load_embedder(const std::filesystem::path& path, const torch::Device& device,
                                        Precision precision = Precision::fp32);

// The nn4 in a facenet-cpp model file, checkpoint or nn4 export, unfolded and trainable, on `device`
// (the trainer's model.init: fine-tuning a released model). face::Error naming the file when it
// holds no nn4 (another TorchScript network, an export whose weights do not check out).
LoadedModel load_nn4(const std::filesystem::path& path, const torch::Device& device);

// A randomly initialised network (seeded); tools using it must warn loudly.
std::unique_ptr<Embedder> random_embedder(const std::string& arch, uint64_t seed, const torch::Device& device,
                                          Precision precision = Precision::fp32);

}  // namespace face
