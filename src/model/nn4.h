// nn4.h: FaceNet's NN4 family of Inception networks at 96x96, as OpenFace defines them.
//
//   input   (m, 3, 96, 96) float RGB in [0, 1]  (see data/normalisation.h)
//   output  (m, D) float, every row L2-normalised (D = embedding_dim, default 128)
//
// Architectures, chosen by name:
//   "nn4.small2"  OpenFace's released nn4.small2.v1 topology, 3,733,968 parameters at D=128.
//   "nn4.small1"  NN4 without 4c/4d and with stride-1 pools, 5,579,520 parameters at D=128.
//   "nn4"         the FaceNet paper's NN4 Inception layout (3a..5b, 896-d pooled features).
// Layer tables live in nn4.cpp, as data.
//
// Weights are initialised deterministically from a seed (He-normal convolutions, identity batch
// norm), independent of LibTorch's global random state.
#pragma once
#include <torch/nn.h>

#include <string>
#include <vector>

#include "model/inception.h"

namespace face {

struct Nn4Options {
  Nn4Options(std::string arch = "nn4.small2") : arch_(std::move(arch)) {}
  TORCH_ARG(std::string, arch);
  TORCH_ARG(int64_t, embedding_dim) = 128;
  TORCH_ARG(uint64_t, seed) = 0;
};

class Nn4Impl : public torch::nn::Module {
 public:
  explicit Nn4Impl(const Nn4Options& options = {});
  // Unit-norm embeddings of a float batch in [0, 1].
  torch::Tensor forward(const torch::Tensor& images);
  const Nn4Options& options() const { return options_; }
  // Inference only: folds every batch norm into the convolution before it, which saves a pass
  // over each layer's activations. The model then has no batch-norm parameters or statistics
  // (so its weights_fingerprint changes) and cannot be trained or checkpointed again.
  void fold_batch_norm();

 private:
  Nn4Options options_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(Nn4);

// The names accepted by Nn4Options::arch.
std::vector<std::string> nn4_architectures();

// Re-initialises every weight of `module` from `seed` (He-normal convolutions, uniform linear
// layers, identity batch norm); the same seed gives the same weights on any machine.
void initialise_weights(torch::nn::Module& module, uint64_t seed);

int64_t count_parameters(const torch::nn::Module& module);

}  // namespace face
