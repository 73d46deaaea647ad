#include "model/inference_graph.h"

#include "util/error.h"

namespace face {

GraphKind graph_kind(const std::string& name) {
  if (name == "eager") return GraphKind::eager;
  if (name == "frozen") return GraphKind::frozen;
  if (name == "onednn") return GraphKind::onednn;
  fail("'{}' is not an inference graph (eager, frozen or onednn)", name);
}

std::string graph_name(GraphKind kind) {
  switch (kind) {
    case GraphKind::eager: return "eager";
    case GraphKind::frozen: return "frozen";
    case GraphKind::onednn: return "onednn";
  }
  return "?";
}

torch::jit::Module inference_graph(const torch::jit::Module& traced, const torch::Device& device, GraphKind kind) {
  torch::jit::Module module = traced.clone();
  module.to(device);
  module.eval();
  if (kind == GraphKind::eager) return module;
  // freeze() runs the frozen-graph optimisations too: conv + batch norm folding among them.
  torch::jit::Module frozen = torch::jit::freeze(module, /*preserved_attrs=*/std::nullopt, /*optimize_numerics=*/true);
  if (kind == GraphKind::frozen || !device.is_cpu()) return frozen;
  return torch::jit::optimize_for_inference(frozen);
}

}  // namespace face
