// inference_graph.h: a traced embedding network (model/traced_network.h) made fast to run.
//
// Training needs batch norm's statistics and every weight as a parameter; inference needs
// neither. Freezing makes weights and buffers constants of the graph, so that each batch norm is
// folded into the convolution before it
//   w' = w * gamma / sqrt(var + eps),   b' = (b - mean) * gamma / sqrt(var + eps) + beta
// and a pass over the activations disappears with it. On the CPU, oneDNN may then pre-pack the
// convolution weights and fuse the ReLUs (torch::jit::optimize_for_inference). The result
// computes the same function to float rounding (~1e-6 on unit embeddings); bench_infer --graph
// measures each stage.
#pragma once
#include <torch/script.h>

#include <string>

namespace face {

enum class GraphKind {
  eager,   // the traced module as it is
  frozen,  // frozen, batch norm folded into the convolutions
  onednn,  // frozen, then optimize_for_inference (on CUDA the same as frozen)
};

// "eager" | "frozen" | "onednn"; face::Error for anything else.
GraphKind graph_kind(const std::string& name);
std::string graph_name(GraphKind kind);

// The kind embedders use (measured: experiments/bench).
constexpr GraphKind kDefaultGraph = GraphKind::frozen;

// A copy of `traced` on `device`, in eval mode, optimised as `kind` says. Attributes other than
// the graph's weights (an export's metadata) are not kept: read them from `traced`.
torch::jit::Module inference_graph(const torch::jit::Module& traced, const torch::Device& device,
                                   GraphKind kind = kDefaultGraph);

}  // namespace face
