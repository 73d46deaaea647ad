// traced_network.h: an embedding network (nn4, dlib's ResNet) as a TorchScript module.
//
// LibTorch C++ modules cannot be scripted, so the graph is built by tracing the network's forward
// once on an example batch, with every parameter and buffer registered on the new module (real
// TorchScript parameters, reached through GetAttr, not constants folded into the graph). The
// traced graph is generic in the batch size. Exports (deploy/export.h) write such a module;
// embedders (model/embedder.h) run it through model/inference_graph.h.
#pragma once
#include <torch/script.h>

#include <functional>
#include <string>

#include "model/nn4.h"

namespace face {

// What is traced: a module's weights, and its forward from float [0, 1] RGB to unit rows.
struct TraceableNetwork {
  torch::nn::Module* module;                                   // its parameters and buffers
  std::function<torch::Tensor(const torch::Tensor&)> forward;  // float (m, 3, S, S) -> (m, D)
  std::string arch;
  int64_t embedding_dim = 128, input_size = 96;
};

// nn4 as a TraceableNetwork (the model must outlive it).
TraceableNetwork traceable(Nn4& model);

// Puts the network in eval mode on the CPU and traces it on a random batch of `example_batch`.
torch::jit::Module trace_network(const TraceableNetwork& network, int64_t example_batch = 2);

}  // namespace face
