#include "vision/deployed_model.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "deploy/export.h"
#include "model/precision.h"
#include "util/device.h"
#include "util/error.h"
#include "vision/model_catalog.h"

namespace face {

DeployedModel::DeployedModel(const DeployedModelOptions& options) : options_(options) {
  const torch::Device device = parse_device(options.device);
  embedder_ = open_model({options.model, options.arch, options.seed, resolve_precision(options.precision, device)}, device);
  name_ = options.model.empty() ? released_model_path().string() : options.model;
  recipe_ = embedder_->metadata("align_recipe");
  if (options.threshold) {
    threshold_ = options.threshold;
  } else if (std::string recorded = embedder_->metadata("threshold"); !recorded.empty()) {
    threshold_ = std::stod(recorded);
  }
  // The faces follow the model's recipe, differing by design only in which face is taken (the
  // largest) and in refusing images without one; a recipe this build cannot read is said.
  if (std::string w = recipe_warning(recipe_, read_options(options.aligned)); !w.empty()) warnings_.push_back(w);
}

DeployedModel::~DeployedModel() = default;

double DeployedModel::threshold() const {
  if (!threshold_)
    fail("model '{}' records no verification threshold: pass --threshold T (or export the model with one)", name_);
  if (!std::isfinite(*threshold_)) fail("the model's threshold {} is not a finite number", *threshold_);
  return *threshold_;
}

std::vector<std::pair<double, double>> DeployedModel::far_thresholds() const {
  const std::string recorded = embedder_->metadata("far_thresholds");
  if (recorded.empty()) return {};
  std::vector<std::pair<double, double>> out;
  try {
    for (const auto& row : nlohmann::json::parse(recorded)) out.emplace_back(row.at(0).get<double>(), row.at(1).get<double>());
  } catch (const nlohmann::json::exception&) {
    fail("model '{}' records far_thresholds that are not [[far, threshold], ...]: '{}'", name_, recorded);
  }
  check_far_thresholds(out, fmt::format("model '{}'", name_));
  return out;
}

FaceReadOptions DeployedModel::read_options(bool aligned) const {
  FaceReadOptions o = faces_for_model(recipe_, static_cast<int>(embedder_->input_size()), aligned,
                                      aligned ? 1 : options_.upsample, aligned ? "" : options_.detector);
  // The CNN detector computes as the model does (it runs on the CPU whatever the model's device).
  o.align.detector_precision = resolve_precision(options_.precision, torch::Device(torch::kCPU));
  o.read = options_.read;
  return o;
}

FaceReader& DeployedModel::faces() {
  if (!faces_) faces_ = std::make_unique<FaceReader>(read_options(options_.aligned));
  return *faces_;
}

PairVerdict verify_pair(const torch::Tensor& a, const torch::Tensor& b, double threshold) {
  PairVerdict v;
  v.distance = (a - b).pow(2).sum().item<double>();
  v.threshold = threshold;
  v.same = v.distance < threshold;  // strictly below, as evaluate chose it
  return v;
}

PairVerdict verify_pair(DeployedModel& model, const std::string& a, const std::string& b) {
  const double threshold = model.threshold();  // a model without one is refused before any reading
  ReadFace fa = model.faces().read(a), fb = model.faces().read(b);
  torch::Tensor e = model.embedder().embed(torch::stack({fa.image, fb.image}));
  PairVerdict v = verify_pair(e[0], e[1], threshold);
  v.notes = fa.notes;
  v.notes.insert(v.notes.end(), fb.notes.begin(), fb.notes.end());
  return v;
}

}  // namespace face
