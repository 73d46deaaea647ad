// export.h: a trained Nn4 as a self-describing TorchScript module.
//
// The exported file is an ordinary TorchScript archive: `torch::jit::load` in C++ and
// `torch.jit.load` in Python open it without any facenet-cpp code.
//
//   forward(x)  x: float (m, 3, 96, 96) RGB in [0, 1]  ->  (m, D) float, rows L2-normalised
//
// The graph is traced (model/traced_network.h), so its weights stay real TorchScript parameters
// that a reader can fine-tune; embedders optimise it when they load it (model/embedder.h).
// export_model re-loads the file it wrote and checks it against the C++ model on a batch of
// another size before returning.
//
// Metadata travels twice, for the two kinds of reader:
//   module attributes   arch, embedding_dim, input_size, input_format, align_recipe,
//                       distance, threshold (float), weights_fingerprint, training_run,
//                       source, export_info        (m.threshold in Python, attr() in C++),
//                       and far_thresholds (JSON text [[far, threshold], ...]) when measured
//   extra file          "facenet.json": all of the above as one JSON object
//                       (torch.jit.load(f, _extra_files={"facenet.json": ""}))
// weights_fingerprint equals model_file.h's weights_fingerprint of the C++ model, so galleries
// built with the checkpoint and with its export accept each other.
#pragma once
#include <torch/script.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/nn4.h"
#include "model/traced_network.h"

namespace face {

// How the verification distance is defined everywhere (verify, identify, evaluate's threshold):
// the squared Euclidean distance between unit embeddings, in [0, 4] (OpenFace's convention).
constexpr const char* kDistanceName = "squared_l2";

struct ExportOptions {
  double threshold = 0;             // verification threshold on the squared L2 distance
  // Squared L2 distances at strict FARs, (far_target, threshold) rows, over every pair of
  // different people of the selection list (eval/impostor_thresholds.h); cluster's default
  // threshold comes from them (deploy/cluster/cluster_threshold.h). Empty: not recorded.
  std::vector<std::pair<double, double>> far_thresholds;
  std::string align_recipe;         // AlignOptions::recipe() of the faces the model was trained on
  std::string training_run;         // fingerprint of the training run (config/checkpoint)
  std::string source;               // where the weights came from (checkpoint path)
  int64_t example_batch = 2;        // batch size used for tracing
};

// Every metadata entry, as text (numbers and export_info as JSON), for printing.
using ExportMetadata = std::map<std::string, std::string>;

// Traces `model` (put in eval mode, on the CPU) and writes the TorchScript module to `path`
// atomically; returns the metadata written. face::Error when the round-trip check fails.
ExportMetadata export_model(Nn4& model, const std::filesystem::path& path, const ExportOptions& options);
// The same for any embedding network (dlib's ResNet).
ExportMetadata export_network(const TraceableNetwork& network, const std::filesystem::path& path,
                              const ExportOptions& options);

// What export and export_dlib record: with a report (non-empty path: evaluate's JSON report), its
// verification threshold ("metrics"."best_threshold", squared L2) and, where it has them, its
// strict ones ("impostor_thresholds"."at"), once its "model"."fingerprint" shows it was measured on
// these weights (another model's thresholds mean nothing here); else `threshold` alone.
// face::Error naming the report when it is unreadable, of other weights or malformed.
void set_export_thresholds(ExportOptions& options, const std::string& report, const std::string& weights_fingerprint,
                           double threshold);

// face::Error naming `whose` unless every (far_target, threshold) row is a FAR in (0, 1) and a
// squared L2 distance in (0, 4): what an export writes and what a reader of one accepts.
void check_far_thresholds(const std::vector<std::pair<double, double>>& table, const std::string& whose);

// Reads the metadata of an exported file (the "facenet.json" extra file, as text);
// face::Error naming the file when it is not a facenet-cpp export.
std::string read_export_metadata_json(const std::filesystem::path& path);

}  // namespace face
