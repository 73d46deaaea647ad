// model_catalog.h: what a tool's --model means, in one place for embed, evaluate, verify,
// identify and identify_eval.
//
//   (nothing)     the model released with the project: models/ beside the sources
//                 (released_model_path), or $FACE_MODEL when set
//   dlib-resnet   dlib's ResNet face model, imported from its .dat (vision/dlib_resnet_import.h)
//   random        an untrained `arch` network from `seed`, with a loud warning (floors, pipeline checks)
//   a file        a checkpoint, model file or TorchScript export (model/embedder.h)
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "model/embedder.h"

namespace face {

constexpr const char* kReleasedModelFile = "models/nn4.small2-celeba-distilled.pt";

// $FACE_MODEL when set, else kReleasedModelFile in the source tree.
std::filesystem::path released_model_path();

struct ModelChoice {
  std::string model;              // as the user gave it: "", a name, or a path
  std::string arch = "nn4.small2";  // for "random"
  uint64_t seed = 0;              // for "random"
  Precision precision = Precision::fp32;  // model/precision.h (resolve "auto" with resolve_precision)
};

// face::Error naming the file or the name when it cannot be opened. The embedder runs in
// choice.precision.
std::unique_ptr<Embedder> open_model(const ModelChoice& choice, const torch::Device& device);

}  // namespace face
