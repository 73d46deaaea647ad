#include "model/traced_network.h"

#include <torch/csrc/jit/frontend/tracer.h>

#include "data/normalisation.h"

namespace face {

namespace {

// TorchScript attribute names must be identifiers: "features.0.weight" -> "features_0_weight".
std::string attribute_name(const std::string& dotted) {
  std::string name = dotted;
  for (char& c : name)
    if (c == '.') c = '_';
  return name;
}

}  // namespace

TraceableNetwork traceable(Nn4& model) {
  return {model.get(), [model](const torch::Tensor& x) mutable { return model->forward(x); }, model->options().arch(),
          model->options().embedding_dim(), kInputSize};
}

torch::jit::Module trace_network(const TraceableNetwork& network, int64_t example_batch) {
  auto& model = *network.module;
  model.to(torch::kCPU);
  model.eval();
  torch::jit::Module module(c10::QualifiedName("__torch__.facenet.Nn4Embedder"));
  // The same tensors as the C++ model's: the tracer recognises them and reads them from `self`.
  for (const auto& p : model.named_parameters()) module.register_parameter(attribute_name(p.key()), p.value(), false);
  for (const auto& b : model.named_buffers()) module.register_buffer(attribute_name(b.key()), b.value());

  torch::NoGradGuard no_grad;
  torch::Tensor example = torch::rand({example_batch, 3, network.input_size, network.input_size});
  auto traced = torch::jit::tracer::trace(
      {example}, [&](torch::jit::Stack inputs) { return torch::jit::Stack{network.forward(inputs[0].toTensor())}; },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/true, /*force_outplace=*/false,
      &module, {"images"});
  auto graph = traced.first->graph;
  auto* function = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), "forward"), graph);
  module.type()->addMethod(function);
  module.eval();
  return module;
}

}  // namespace face
