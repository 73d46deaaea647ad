#include "model/nn4.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/ranges.h>

#include <cmath>
#include <map>

#include "model/local_response_norm.h"
#include "util/error.h"

namespace face {

namespace nn = torch::nn;

namespace {

constexpr PoolKind kMax = PoolKind::max, kL2 = PoolKind::l2;

// Layer tables transcribed from OpenFace's model definitions (models/openface/*.def.lua).
// Entries: name, input channels, {reduce, out, kernel, stride}..., pool {kind, k, stride, pad,
// projection}, plain 1x1 width.
const std::map<std::string, std::vector<InceptionSpec>>& layer_tables() {
  static const std::map<std::string, std::vector<InceptionSpec>> tables = {
      {"nn4.small2",
       {
           {"3a", 192, {{96, 128, 3}, {16, 32, 5}}, {kMax, 3, 2, 0, 32}, 64},
           {"3b", 256, {{96, 128, 3}, {32, 64, 5}}, {kL2, 3, 3, 0, 64}, 64},
           {"3c", 320, {{128, 256, 3, 2}, {32, 64, 5, 2}}, {kMax, 3, 2, 0, 0}, 0},
           {"4a", 640, {{96, 192, 3}, {32, 64, 5}}, {kL2, 3, 3, 0, 128}, 256},
           {"4e", 640, {{160, 256, 3, 2}, {64, 128, 5, 2}}, {kMax, 3, 2, 0, 0}, 0},
           {"5a", 1024, {{96, 384, 3}}, {kL2, 3, 3, 0, 96}, 256},
           {"5b", 736, {{96, 384, 3}}, {kMax, 3, 2, 0, 96}, 256},
       }},
      {"nn4.small1",
       {
           {"3a", 192, {{96, 128, 3}, {16, 32, 5}}, {kMax, 3, 1, 1, 32}, 64},
           {"3b", 256, {{96, 128, 3}, {32, 64, 5}}, {kL2, 3, 1, 0, 64}, 64},
           {"3c", 320, {{128, 256, 3, 2}, {32, 64, 5, 2}}, {kMax, 3, 2, 1, 0}, 0},
           {"4a", 640, {{96, 192, 3}, {32, 64, 5}}, {kL2, 3, 1, 0, 128}, 256},
           {"4b", 640, {{112, 224, 3}, {32, 64, 5}}, {kL2, 3, 1, 0, 128}, 224},
           {"4e", 640, {{160, 256, 3, 2}, {64, 128, 5, 2}}, {kMax, 3, 2, 1, 0}, 0},
           {"5a", 1024, {{192, 384, 3}}, {kL2, 3, 1, 0, 128}, 384},
           {"5b", 896, {{192, 384, 3}}, {kMax, 3, 1, 1, 128}, 384},
       }},
      {"nn4",
       {
           {"3a", 192, {{96, 128, 3}, {16, 32, 5}}, {kMax, 3, 2, 0, 32}, 64},
           {"3b", 256, {{96, 128, 3}, {32, 64, 5}}, {kL2, 3, 3, 0, 64}, 64},
           {"3c", 320, {{128, 256, 3, 2}, {32, 64, 5, 2}}, {kMax, 3, 2, 0, 0}, 0},
           {"4a", 640, {{96, 192, 3}, {32, 64, 5}}, {kL2, 3, 3, 0, 128}, 256},
           {"4b", 640, {{112, 224, 3}, {32, 64, 5}}, {kL2, 3, 3, 0, 128}, 224},
           {"4c", 640, {{128, 256, 3}, {32, 64, 5}}, {kL2, 3, 3, 0, 128}, 192},
           {"4d", 640, {{144, 288, 3}, {32, 64, 5}}, {kL2, 3, 3, 0, 128}, 160},
           {"4e", 640, {{160, 256, 3, 2}, {64, 128, 5, 2}}, {kMax, 3, 2, 0, 0}, 0},
           {"5a", 1024, {{192, 384, 3}}, {kL2, 3, 3, 0, 128}, 384},
           {"5b", 896, {{192, 384, 3}}, {kMax, 3, 2, 0, 128}, 384},
       }},
  };
  return tables;
}

// OpenFace's stem LRN: size 5, alpha 1e-4, beta 0.75, k 1 (the LrnOptions defaults).
nn::Functional lrn() {
  return nn::Functional([](const torch::Tensor& x) { return local_response_norm(x); });
}

}  // namespace

std::vector<std::string> nn4_architectures() {
  std::vector<std::string> names;
  for (const auto& [name, table] : layer_tables()) names.push_back(name);
  return names;
}

Nn4Impl::Nn4Impl(const Nn4Options& options) : options_(options) {
  auto it = layer_tables().find(options.arch());
  if (it == layer_tables().end())
    fail("unknown architecture '{}' (known: {})", options.arch(), fmt::join(nn4_architectures(), ", "));
  if (options.embedding_dim() <= 0) fail("embedding_dim must be positive, got {}", options.embedding_dim());

  // Stem, shared by the whole family: 96 -> 48 -> 24 -> 12.
  features_ = nn::Sequential();
  features_->extend(*conv_bn_relu(3, 64, 7, 2, 3));
  features_->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  features_->push_back(lrn());
  features_->extend(*conv_bn_relu(64, 64, 1));
  features_->extend(*conv_bn_relu(64, 192, 3, 1, 1));
  features_->push_back(lrn());
  features_->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));

  int64_t channels = 192;
  for (const auto& block : it->second) {
    if (block.in_channels != channels)
      fail("{} block {}: expects {} input channels, previous block gives {}", options.arch(), block.name,
           block.in_channels, channels);
    features_->push_back(Inception(block));
    channels = block.out_channels();
  }
  features_->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(1)));
  features_->push_back(nn::Flatten());
  register_module("features", features_);
  head_ = register_module("head", nn::Linear(channels, options.embedding_dim()));
  initialise_weights(*this, options.seed());
}

torch::Tensor Nn4Impl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == 96 && images.size(3) == 96,
              "nn4 expects (m, 3, 96, 96) input, got ", images.sizes());
  return torch::nn::functional::normalize(head_->forward(features_->forward(images)),
                                          torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
}

void Nn4Impl::fold_batch_norm() { features_ = replace_module("features", face::fold_batch_norm(features_)); }

void initialise_weights(torch::nn::Module& module, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Draw on the CPU with our own generator, then copy: the same numbers whatever the device.
  auto draw = [&](torch::Tensor& target, auto fill) {
    auto cpu = torch::empty(target.sizes(), torch::kFloat32);
    fill(cpu);
    target.copy_(cpu);
  };
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      const auto& w = conv->weight;
      double fan_out = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
      draw(conv->weight, [&](torch::Tensor& t) { t.normal_(0.0, std::sqrt(2.0 / fan_out), generator); });
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
      bn->running_mean.zero_();
      bn->running_var.fill_(1.0);
    } else if (auto* linear = m->as<nn::Linear>()) {
      double bound = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(1)));
      draw(linear->weight, [&](torch::Tensor& t) { t.uniform_(-bound, bound, generator); });
      if (linear->bias.defined()) linear->bias.zero_();
    }
  }
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

}  // namespace face
