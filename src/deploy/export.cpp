#include "deploy/export.h"

#include <torch/csrc/jit/serialization/export.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "data/normalisation.h"
#include "model/model_file.h"
#include "util/atomic_file.h"
#include "util/checked_writer.h"
#include "util/error.h"
#include "util/run_info.h"

namespace face {

namespace {

constexpr const char* kMetadataFile = "facenet.json";

}  // namespace

ExportMetadata export_model(Nn4& model, const std::filesystem::path& path, const ExportOptions& options) {
  return export_network(traceable(model), path, options);
}

ExportMetadata export_network(const TraceableNetwork& network, const std::filesystem::path& path,
                              const ExportOptions& options) {
  if (!std::isfinite(options.threshold) || options.threshold <= 0 || options.threshold >= 4)
    fail("export: threshold {} is not a squared L2 distance between unit embeddings (0 < t < 4)", options.threshold);
  check_far_thresholds(options.far_thresholds, "export");
  torch::jit::Module module = trace_network(network, options.example_batch);
  const int64_t size = network.input_size;

  nlohmann::ordered_json json = {
      {"format", "facenet-cpp export 1"},
      {"arch", network.arch},
      {"embedding_dim", network.embedding_dim},
      {"input_size", size},
      {"input_format", fmt::format("float32 (m, 3, {}, {}) RGB in [0, 1] (uint8 / 255; any further normalisation "
                                   "is inside the module)", size, size)},
      {"align_recipe", options.align_recipe.empty() ? "unspecified" : options.align_recipe},
      {"distance", kDistanceName},
      {"threshold", options.threshold},
      {"weights_fingerprint", weights_fingerprint(*network.module)},
      {"training_run", options.training_run.empty() ? "unknown" : options.training_run},
      {"source", options.source},
      {"export_info", run_info()},
  };
  if (!options.far_thresholds.empty()) json["far_thresholds"] = options.far_thresholds;
  // The same entries as module attributes (numbers stay numbers, export_info is JSON text), and
  // as text for the caller to print.
  ExportMetadata metadata;
  for (const auto& [key, value] : json.items()) {
    if (value.is_number_integer())
      module.register_attribute(key, c10::IntType::get(), value.get<int64_t>());
    else if (value.is_number())
      module.register_attribute(key, c10::FloatType::get(), value.get<double>());
    else
      module.register_attribute(key, c10::StringType::get(), value.is_string() ? value.get<std::string>() : value.dump());
    metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  torch::jit::ExtraFilesMap extra = {{kMetadataFile, json.dump()}};
  write_atomic(path, [&](const std::filesystem::path& tmp) {
    write_checked(tmp, path, "TorchScript model",
                  [&](const ByteWriter& writer) { torch::jit::ExportModule(module, writer, extra); });
  });

  // Round trip: the file, as any reader loads it, must compute what the C++ model computes, on
  // a batch size other than the traced one.
  torch::jit::Module loaded = torch::jit::load(path.string(), torch::kCPU);
  loaded.eval();
  torch::NoGradGuard no_grad;
  torch::Tensor probe = torch::rand({options.example_batch + 1, 3, size, size});
  torch::Tensor expected = network.forward(probe);
  torch::Tensor got = loaded.forward({probe}).toTensor();
  double error = (got - expected).abs().max().item<double>();
  if (!got.sizes().equals(expected.sizes()) || error > 1e-5) {
    std::filesystem::remove(path);
    fail("export: '{}' does not reproduce the C++ model (max difference {}); removed", path.string(), error);
  }
  return metadata;
}

namespace {

struct ReportThresholds {
  double verification = 0;
  std::vector<std::pair<double, double>> far_thresholds;
};

ReportThresholds thresholds_from_report(const std::string& report, const std::string& weights_fingerprint) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(report));
  } catch (const nlohmann::json::exception& e) {
    fail("--report '{}' is not valid JSON: {}", report, e.what());
  }
  // evaluate writes {"model": {"fingerprint": f, ...}, "metrics": {"distance": "l2", "best_threshold": t, ...}};
  // {"model": {...}, "best_threshold": t} is accepted too.
  if (!json.is_object() || !json.contains("model") || !json["model"].is_object() ||
      !json["model"].contains("fingerprint") || !json["model"]["fingerprint"].is_string())
    fail("--report '{}' names no model fingerprint (\"model\": {{\"fingerprint\": ...}}), so its threshold cannot be "
         "checked to come from these weights; pass --threshold T instead", report);
  std::string measured = json["model"]["fingerprint"];
  if (measured != weights_fingerprint)
    fail("--report '{}' was measured on other weights (fingerprint {}, these are {}): its threshold does not "
         "apply; evaluate this checkpoint, or pass --threshold T", report, measured, weights_fingerprint);
  const nlohmann::json* metrics = &json;
  if (json.is_object() && json.contains("metrics") && json["metrics"].is_object()) metrics = &json["metrics"];
  if (!metrics->is_object() || !metrics->contains("best_threshold") || !(*metrics)["best_threshold"].is_number())
    fail("--report '{}' has no numeric \"best_threshold\" (is it evaluate's report?)", report);
  if (metrics->contains("distance") && (*metrics)["distance"] != "l2" && (*metrics)["distance"] != "squared_l2")
    fail("--report '{}': its threshold is on the {} distance; verify and identify use the squared L2 distance "
         "(run evaluate with --distance l2)", report, (*metrics)["distance"].dump());
  ReportThresholds out;
  out.verification = (*metrics)["best_threshold"].get<double>();
  // {"impostor_thresholds": {"at": [{"far_target": f, "threshold": t, ...}, ...]}} (null for CSV lists).
  if (json.contains("impostor_thresholds") && json["impostor_thresholds"].is_object() &&
      json["impostor_thresholds"].contains("at") && json["impostor_thresholds"]["at"].is_array())
    for (const auto& at : json["impostor_thresholds"]["at"]) {
      if (!at.is_object() || !at.contains("far_target") || !at["far_target"].is_number() || !at.contains("threshold") ||
          !at["threshold"].is_number())
        fail("--report '{}': an impostor_thresholds entry is not {{\"far_target\": f, \"threshold\": t}}: {}", report,
             at.dump());
      out.far_thresholds.emplace_back(at["far_target"].get<double>(), at["threshold"].get<double>());
    }
  return out;
}

}  // namespace

void check_far_thresholds(const std::vector<std::pair<double, double>>& table, const std::string& whose) {
  for (const auto& [far, t] : table)
    if (!(far > 0 && far < 1) || !(t > 0 && t < 4))
      fail("{}: strict threshold {} at FAR {} is not a squared L2 distance (0 < t < 4) at a FAR in (0, 1)", whose, t,
           far);
}

void set_export_thresholds(ExportOptions& options, const std::string& report, const std::string& weights_fingerprint,
                           double threshold) {
  if (report.empty()) {
    options.threshold = threshold;
    return;
  }
  ReportThresholds measured = thresholds_from_report(report, weights_fingerprint);
  options.threshold = measured.verification;
  options.far_thresholds = measured.far_thresholds;
}

std::string read_export_metadata_json(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail("model '{}' does not exist", path.string());
  torch::jit::ExtraFilesMap extra = {{kMetadataFile, ""}};
  try {
    torch::jit::load(path.string(), torch::kCPU, extra);
  } catch (const c10::Error& e) {
    fail("'{}' is not a TorchScript module: {}", path.string(), e.what_without_backtrace());
  }
  if (extra[kMetadataFile].empty()) fail("'{}' is a TorchScript module but not a facenet-cpp export (no {})", path.string(), kMetadataFile);
  return extra[kMetadataFile];
}

}  // namespace face
