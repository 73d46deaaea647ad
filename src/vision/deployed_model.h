// deployed_model.h: a model as the deployment tools use it (verify, identify, identify_eval,
// serve): the embedder, its verification threshold, and the faces its recipe reads.
//
// The model is what --model names (vision/model_catalog.h; nothing: the released model). The
// threshold is the one given, else the one the export records (export --threshold/--report);
// threshold() fails naming the model when there is neither, so a tool that needs none (enrolling)
// never asks. Faces follow the model's own recipe (its export's "align_recipe",
// vision/face_reader.h faces_for_model): detected and aligned, the largest face of each image, or
// taken as aligned faces; a recipe this build cannot reproduce gives one warning (warnings()).
//
// The verdict is the same everywhere: the squared L2 distance of the two unit embeddings, "same"
// when strictly below the threshold (as `evaluate` chose it: eval/verification_metrics.h).
#pragma once
#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/embedder.h"
#include "vision/face_reader.h"

namespace face {

struct DeployedModelOptions {
  std::string model;                // as the user gave it: "", a name or a path
  std::string arch = "nn4.small2";  // for "random"
  uint64_t seed = 0;                // for "random"
  std::string device = "cpu";       // cpu | cuda[:N]
  std::string precision = "fp32";   // auto | fp32 | bf16 (model/precision.h: auto is bf16 where native)
  std::optional<double> threshold;  // overrides the model's recorded one
  bool aligned = false;             // inputs are aligned faces (no detection)
  int upsample = 1;                 // detector upsampling when aligning
  std::string detector;             // "hog" | "mmod" in place of the recipe's detector; "": the recipe's
  ImageReadOptions read;            // decoding limits
};

class DeployedModel {
 public:
  // Fails (face::Error naming the model) when it cannot be opened.
  explicit DeployedModel(const DeployedModelOptions& options);
  ~DeployedModel();

  Embedder& embedder() { return *embedder_; }
  const Embedder& embedder() const { return *embedder_; }
  // The model as messages name it: the released model's path when none was given.
  const std::string& name() const { return name_; }
  // The given threshold, else the model's; face::Error naming the model when there is neither
  // (or it is not a finite number).
  double threshold() const;
  // The strict thresholds the model records, (far_target, squared L2) rows (export's
  // "far_thresholds", deploy/export.h); empty for models exported without them. face::Error
  // naming the model when the entry is malformed.
  std::vector<std::pair<double, double>> far_thresholds() const;
  const std::string& recipe() const { return recipe_; }  // the model's "align_recipe" ("" when none)
  // How it reads faces: aligned input (`aligned`) or photos aligned by its recipe.
  FaceReadOptions read_options(bool aligned) const;
  // A reader in the options' mode (made on first use).
  FaceReader& faces();
  // Worth a warning once per run (the recipe warning when photos are aligned).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  DeployedModelOptions options_;
  std::unique_ptr<Embedder> embedder_;
  std::string name_, recipe_;
  std::optional<double> threshold_;
  std::unique_ptr<FaceReader> faces_;
  std::vector<std::string> warnings_;
};

struct PairVerdict {
  double distance = 0;  // squared L2 of the unit embeddings, in [0, 4]
  double threshold = 0;
  bool same = false;    // distance < threshold
  std::vector<std::string> notes;  // worth a warning, each naming its file (from the face reader)
};

// `a`, `b` unit embeddings (D) of one model.
PairVerdict verify_pair(const torch::Tensor& a, const torch::Tensor& b, double threshold);

// Reads the two image files as `model` reads faces, embeds them in one batch and judges them
// with its threshold. face::Error naming the file when one cannot be read (or has no face).
PairVerdict verify_pair(DeployedModel& model, const std::string& a, const std::string& b);

}  // namespace face
