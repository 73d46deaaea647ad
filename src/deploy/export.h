// export.h: a trained Nn4 as a self-describing TorchScript module.
//
// The exported file is an ordinary TorchScript archive: `torch::jit::load` in C++ and
// `torch.jit.load` in Python open it without any facenet-cpp code.
//
//   forward(x)  x: float (m, 3, 96, 96) RGB in [0, 1]  ->  (m, D) float, rows L2-normalised
//
// LibTorch C++ modules cannot be scripted, so the graph is built by tracing Nn4::forward once on
// an example batch, with every parameter and buffer registered on the new module (so they are
// real TorchScript parameters, reached through GetAttr, not constants folded into the graph).
// The traced graph is generic in the batch size; export_model re-loads the file it wrote and
// checks it against the C++ model on a batch of another size before returning.
//
// Metadata travels twice, for the two kinds of reader:
//   module attributes   arch, embedding_dim, input_size, input_format, align_recipe,
//                       distance, threshold (float), weights_fingerprint, training_run,
//                       source, export_info        (m.threshold in Python, attr() in C++)
//   extra file          "facenet.json": all of the above as one JSON object
//                       (torch.jit.load(f, _extra_files={"facenet.json": ""}))
// weights_fingerprint equals model_file.h's weights_fingerprint of the C++ model, so galleries
// built with the checkpoint and with its export accept each other.
#pragma once
#include <torch/script.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "model/nn4.h"

namespace face {

// How the verification distance is defined everywhere (verify, identify, evaluate's threshold):
// the squared Euclidean distance between unit embeddings, in [0, 4] (OpenFace's convention).
constexpr const char* kDistanceName = "squared_l2";

struct ExportOptions {
  double threshold = 0;             // verification threshold on the squared L2 distance
  std::string align_recipe;         // AlignOptions::recipe() of the faces the model was trained on
  std::string training_run;         // fingerprint of the training run (config/checkpoint)
  std::string source;               // where the weights came from (checkpoint path)
  int64_t example_batch = 2;        // batch size used for tracing
};

// Every metadata entry, as text, in a fixed order (for JSON and printing).
using ExportMetadata = std::map<std::string, std::string>;

// What an exported network is, beside its weights: any embedding module (nn4, dlib's ResNet).
struct ExportedNetwork {
  torch::nn::Module* module;                               // its parameters and buffers are exported
  std::function<torch::Tensor(const torch::Tensor&)> forward;  // float [0, 1] RGB -> unit rows
  std::string arch;
  int64_t embedding_dim = 128, input_size = 96;
};

// Traces `model` (put in eval mode, on the CPU) and writes the TorchScript module to `path`
// atomically; returns the metadata written. face::Error when the round-trip check fails.
ExportMetadata export_model(Nn4& model, const std::filesystem::path& path, const ExportOptions& options);
ExportMetadata export_network(const ExportedNetwork& network, const std::filesystem::path& path,
                              const ExportOptions& options);

// The TorchScript module itself, without writing it (used by export_model and the tests).
torch::jit::Module trace_model(Nn4& model, int64_t example_batch = 2);
torch::jit::Module trace_network(const ExportedNetwork& network, int64_t example_batch = 2);

// The verification threshold of evaluate's JSON report `report` ("metrics"."best_threshold", on the
// squared L2 distance), once its "model"."fingerprint" shows it was measured on these weights;
// face::Error naming the report otherwise (another model's threshold means nothing here).
double threshold_from_report(const std::string& report, const std::string& weights_fingerprint);

// Reads the metadata of an exported file (the "facenet.json" extra file, as text);
// face::Error naming the file when it is not a facenet-cpp export.
std::string read_export_metadata_json(const std::filesystem::path& path);

}  // namespace face
