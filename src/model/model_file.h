// model_file.h: how an embedding model is stored inside a checkpoint (or a bare model file).
//
// A checkpoint is a LibTorch archive (torch::serialize). The model part of it is:
//   "format"               "facenet-cpp"            (identifies our files)
//   "format_version"       1
//   "model_arch"           e.g. "nn4.small2"
//   "model_embedding_dim"  e.g. 128
//   "model"                sub-archive with every parameter and buffer of the Nn4
// The trainer adds its own keys (optimiser, step, random states; see train/checkpoint.h) beside
// these, so any checkpoint is also a model file that embed/evaluate/export can read.
#pragma once
#include <torch/serialize.h>

#include <filesystem>
#include <string>

#include "model/nn4.h"

namespace face {

struct LoadedModel {
  Nn4 model{nullptr};
  std::string fingerprint;  // of the weights: identifies the model in reports and galleries
};

void write_model_entries(torch::serialize::OutputArchive& archive, Nn4& model);
LoadedModel read_model_entries(torch::serialize::InputArchive& archive, const std::string& source);

// A model-only file, written atomically.
void save_model_file(const std::filesystem::path& path, Nn4& model);
// Reads the model part of a checkpoint or model file onto `device`, in eval mode.
LoadedModel load_model_file(const std::filesystem::path& path, const torch::Device& device = torch::kCPU);
// True when `path` is one of our archives (as opposed to a TorchScript module or anything else).
bool is_model_file(const std::filesystem::path& path);

// FNV-1a over every parameter and buffer, in registration order.
std::string weights_fingerprint(const torch::nn::Module& model);

}  // namespace face
