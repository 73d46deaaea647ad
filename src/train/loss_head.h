// loss_head.h: one term of the training loss, with everything it owns.
//
// A loss head turns the step's embeddings into one weighted term of the loss. It owns its
// parameters (CosFace/ArcFace's class centres: trained with the model's by the optimiser), its
// checkpoint entries (written beside the model's, read back on resume) and its telemetry (named
// values put into the step's StepMetrics, and its part of the progress line). The trainer knows
// no head by name: it makes the heads the recipe asks for (make_loss_heads), adds up their
// terms in registration order, backpropagates the sum and applies the update when some term
// teaches and every value is finite.
//
// Adding a loss: a class deriving from LossHead in its own file (train/NAME_head.h/.cpp) with a
// function returning its LossHeadRegistration, and one line naming that function in the registry
// (train/loss_heads.cpp).
#pragma once
#include <torch/serialize.h>
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/pack.h"
#include "train/config.h"
#include "train/step_metrics.h"

namespace face {

class Distributed;

// What a head may use when it is made.
struct LossHeadContext {
  const TrainConfig& config;
  const Pack& pack;                         // the training pack (labels on the host)
  const std::vector<int64_t>& train_images;  // pack indices of the training identities' images
  torch::Device device;
  Distributed* distributed = nullptr;       // null in single-process runs
  bool is_main = true;                      // rank 0 (prints)
  // The centred teacher vectors of the pack's images (train/distillation_data.h), on the device;
  // undefined when the recipe uses no teacher.
  torch::Tensor teacher_targets;
};

// The step's network output, as every head sees it.
struct LossHeadInput {
  torch::Tensor embeddings;  // float32 (B, D) unit rows: the labelled rows, then any unlabelled ones
  torch::Tensor labels;      // int64 pack labels of the first labels.size(0) rows
  torch::Tensor targets;     // centred teacher vectors of every row (when distilling), else undefined
  // The labelled rows of `embeddings` (the identity losses see only these).
  torch::Tensor labelled() const;
};

struct LossTerm {
  torch::Tensor loss;          // weighted scalar; undefined: the term is only measured this step
  double gradient_scale = 1;   // multiplies `loss` in backward only (distributed global mining)
  torch::Tensor teaches;       // device bool scalar: whether the term can teach; undefined = yes
};

class LossHead {
 public:
  virtual ~LossHead() = default;
  // Requires: `in` as documented above. Ensures: the returned term, and this head's telemetry
  // put into `metrics` (its loss before weighting among them).
  virtual LossTerm forward(const LossHeadInput& in, StepMetrics& metrics) = 0;
  // Tensors the optimiser trains besides the model's parameters (leaves that require grad).
  virtual std::vector<torch::Tensor> parameters() { return {}; }
  // Checkpoint entries: written into the trainer's archive; load fails (face::Error naming
  // `path`) when its entries are missing or do not fit this run.
  virtual void save(torch::serialize::OutputArchive& archive) const {}
  virtual void load(torch::serialize::InputArchive& archive, const std::filesystem::path& path) {}
  // Its part of the progress line, from its telemetry averaged over the logging window.
  virtual std::string note(const std::map<std::string, double>& means) const = 0;
};

struct LossHeadRegistration {
  std::string name;
  std::vector<std::string> telemetry;  // the names forward() puts (null in the logs of runs without it)
  std::function<bool(const TrainConfig&)> wanted;  // whether a recipe uses it
  std::function<std::unique_ptr<LossHead>(const LossHeadContext&)> make;
};

// The registry (train/loss_heads.cpp), in the order terms are added.
const std::vector<LossHeadRegistration>& loss_head_registry();
// The heads `context.config` wants, in registry order.
std::vector<std::unique_ptr<LossHead>> make_loss_heads(const LossHeadContext& context);
// Every registered head's telemetry names, in registry order.
std::vector<std::string> loss_telemetry_keys();

// `unweighted` as a term of weight `weight`: no loss at weight 0 (measured only), the tensor
// itself at weight 1 (bit for bit), else the product.
LossTerm weighted_term(const torch::Tensor& unweighted, double weight);

// Within its scope, nothing builds a graph when `measured_only` (a term of weight 0).
class MeasuredOnlyGuard {
 public:
  explicit MeasuredOnlyGuard(bool measured_only) {
    if (measured_only) guard_.emplace();
  }

 private:
  std::optional<torch::NoGradGuard> guard_;
};

}  // namespace face
