#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/folded_conv.h"
#include "model/inference_graph.h"
#include "model/memory_format.h"
#include "model/model_file.h"
#include "model/nn4.h"
#include "model/traced_network.h"
#include "test_support.h"
#include "util/error.h"

using namespace face;

TEST(Nn4, ParameterCountsMatchOpenFace) {
  // nn4.small2: OpenFace's released nn4.small2.v1; nn4.small1: the count its definition states.
  EXPECT_EQ(count_parameters(*Nn4(Nn4Options("nn4.small2"))), 3733968);
  EXPECT_EQ(count_parameters(*Nn4(Nn4Options("nn4.small1"))), 5579520);
  // nn4: small1's stem, blocks and widths plus the Inception blocks 4c and 4d (its pools differ
  // only in stride, which holds no weights). Every unit is conv (weights and bias) + batch norm
  // (scale and shift): in * out * k * k + 3 * out parameters.
  auto unit = [](int64_t in, int64_t out, int64_t k) { return in * out * k * k + 3 * out; };
  // 640 in: 1x1 128 -> 3x3 256, 1x1 32 -> 5x5 64, pool projection 128, plain 1x1 192 (4c) or 160 (4d).
  int64_t block_4c = unit(640, 128, 1) + unit(128, 256, 3) + unit(640, 32, 1) + unit(32, 64, 5) + unit(640, 128, 1) +
                     unit(640, 192, 1);
  int64_t block_4d = unit(640, 144, 1) + unit(144, 288, 3) + unit(640, 32, 1) + unit(32, 64, 5) + unit(640, 128, 1) +
                     unit(640, 160, 1);
  EXPECT_EQ(count_parameters(*Nn4(Nn4Options("nn4"))), 5579520 + block_4c + block_4d);
  EXPECT_EQ(5579520 + block_4c + block_4d, 6959088);
}

TEST(Nn4, EmbeddingSizeIsConfigurable) {
  Nn4 small(Nn4Options("nn4.small2").embedding_dim(64));
  EXPECT_EQ(count_parameters(*small), 3733968 - 64 * (736 + 1));
  small->eval();
  EXPECT_EQ(small->forward(torch::rand({2, 3, 96, 96})).size(1), 64);
}

TEST(Nn4, UnknownArchitectureIsNamed) {
  try {
    Nn4 m(Nn4Options("nn5"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nn5"), std::string::npos);
  }
}

class EveryArchitecture : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryArchitecture, OutputsUnitNormEmbeddings) {
  Nn4 model(Nn4Options(GetParam()).seed(3));
  model->eval();
  torch::NoGradGuard no_grad;
  auto out = model->forward(torch::rand({3, 3, 96, 96}));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 128}));
  EXPECT_TRUE(torch::allclose(out.norm(2, 1), torch::ones({3}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
}

TEST_P(EveryArchitecture, BatchEqualsOneByOneInEvalMode) {
  Nn4 model(Nn4Options(GetParam()).seed(5));
  model->eval();
  torch::NoGradGuard no_grad;
  auto images = torch::rand({4, 3, 96, 96});
  auto batched = model->forward(images);
  for (int64_t i = 0; i < 4; ++i) {
    auto single = model->forward(images.slice(0, i, i + 1));
    EXPECT_TRUE(torch::allclose(single[0], batched[i], 1e-5, 1e-5)) << "image " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Nn4, EveryArchitecture, ::testing::Values("nn4.small2", "nn4.small1", "nn4"));

TEST(Nn4, SameSeedSameWeightsDifferentSeedDifferentWeights) {
  Nn4 a(Nn4Options().seed(11)), b(Nn4Options().seed(11)), c(Nn4Options().seed(12));
  torch::manual_seed(999);  // the global generator must not matter
  Nn4 d(Nn4Options().seed(11));
  EXPECT_EQ(weights_fingerprint(*a), weights_fingerprint(*b));
  EXPECT_EQ(weights_fingerprint(*a), weights_fingerprint(*d));
  EXPECT_NE(weights_fingerprint(*a), weights_fingerprint(*c));
}

TEST(Nn4, TrainingModeGradientsAreCompleteAndMatchFiniteDifferences) {
  Nn4 model(Nn4Options().seed(1));
  model->train();
  torch::manual_seed(0);
  auto x = torch::rand({4, 3, 96, 96});
  auto weights = torch::randn({4, 128});
  auto loss_of = [&] { return (model->forward(x) * weights).sum(); };
  loss_of().backward();
  // Every parameter gets a finite gradient, and none is identically zero.
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().max().item<float>(), 0) << p.key();
  }
  // The gradient predicts how the loss changes along a direction of all the weights, half along
  // the gradient and half random, of unit length (a central difference in float32; batch-norm
  // uses batch statistics in training mode, the same on both sides).
  auto parameters = model->parameters();
  double gradient_norm = 0, random_norm = 0;
  std::vector<torch::Tensor> random;
  for (auto& p : parameters) {
    random.push_back(torch::randn_like(p));
    gradient_norm += p.grad().pow(2).sum().item<double>();
    random_norm += random.back().pow(2).sum().item<double>();
  }
  std::vector<torch::Tensor> direction;
  double length = 0, predicted = 0;
  for (size_t i = 0; i < parameters.size(); ++i) {
    direction.push_back(parameters[i].grad() / std::sqrt(gradient_norm) + random[i] / std::sqrt(random_norm));
    length += direction.back().pow(2).sum().item<double>();
  }
  for (size_t i = 0; i < parameters.size(); ++i) {
    direction[i] /= std::sqrt(length);
    predicted += (parameters[i].grad() * direction[i]).sum().item<double>();
  }
  const double eps = 1e-3;
  auto nudge = [&](double by) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i].add_(direction[i], by);
  };
  torch::NoGradGuard no_grad;
  nudge(eps);
  double plus = loss_of().item<double>();
  nudge(-2 * eps);
  double minus = loss_of().item<double>();
  nudge(eps);
  EXPECT_NEAR((plus - minus) / (2 * eps), predicted, 0.05 * std::abs(predicted)) << "predicted " << predicted;
}

// Batch norm with statistics and affine terms away from the identity, as after training.
Nn4 trained_looking(uint64_t seed) {
  Nn4 model(Nn4Options("nn4.small2").seed(seed));
  torch::NoGradGuard no_grad;
  for (auto& m : model->modules(/*include_self=*/false))
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
      bn->running_mean.uniform_(-0.3, 0.3);
      bn->running_var.uniform_(0.5, 2.0);
    }
  model->eval();
  return model;
}

// Inference graphs: batch norm folded into the C++ module, and the traced graph frozen (and
// optimised for oneDNN), all compute what the eval-mode model computes.
TEST(Nn4, FoldedAndFrozenInferenceGraphsMatchTheModel) {
  Nn4 model = trained_looking(5);
  auto x = torch::rand({3, 3, 96, 96});
  torch::Tensor want;
  {
    torch::NoGradGuard no_grad;
    want = model->forward(x);
  }
  auto traced = trace_network(traceable(model));
  for (auto kind : {GraphKind::eager, GraphKind::frozen, GraphKind::onednn}) {
    torch::InferenceMode inference;
    auto graph = inference_graph(traced, torch::kCPU, kind);
    auto got = graph.forward({in_layout(x, true)}).toTensor();
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-5) << graph_name(kind);
    if (kind != GraphKind::eager) {
      EXPECT_EQ(graph.named_parameters().size(), 0u) << "frozen: weights are constants";
    }
  }
  EXPECT_THROW(graph_kind("fast"), Error);

  const int64_t before = count_parameters(*model);
  model->fold_batch_norm();
  use_channels_last(*model);
  int batch_norms = 0;
  for (auto& m : model->modules(false)) batch_norms += m->as<torch::nn::BatchNorm2d>() != nullptr;
  EXPECT_EQ(batch_norms, 0);
  EXPECT_LT(count_parameters(*model), before);
  torch::InferenceMode inference;
  EXPECT_LE((model->forward(in_layout(x, true)) - want).abs().max().item<double>(), 1e-5);
  // The fused convolutions keep one weight layout per batch size: each size, and a return to
  // an earlier one, still computes the same function.
  for (int64_t rows : {1, 3, 2, 1}) {
    auto got = model->forward(in_layout(x.slice(0, 0, rows), true));
    EXPECT_LE((got - want.slice(0, 0, rows)).abs().max().item<double>(), 1e-5) << "batch " << rows;
  }
  for (int64_t rows = 1; rows <= 3; ++rows) {  // more sizes than it keeps layouts for (NCHW input too)
    auto got = model->forward(torch::cat({x, x}).slice(0, 0, rows + 3));
    EXPECT_LE((got - torch::cat({want, want}).slice(0, 0, rows + 3)).abs().max().item<double>(), 1e-5) << rows + 3;
  }
  int fused = 0;
  for (auto& m : model->modules(false)) fused += m->as<FoldedConv>() != nullptr && m->as<FoldedConv>()->relu();
  EXPECT_GT(fused, 0) << "each conv + batch norm + ReLU became one FoldedConv";
}

// A fused convolution in bf16 (oneDNN's bf16 kernel where the CPU has native bf16, conv2d
// elsewhere) computes what ATen's bf16 conv2d + ReLU computes, also after a first call in fp32
// (the module converted with to(): the layouts kept for fp32 weights must not be reused).
TEST(FoldedConv, Bf16AgreesWithAtenConvolutionAfterAnFp32Call) {
  torch::manual_seed(3);
  auto options = torch::nn::detail::ConvNdOptions<2>(8, 16, 3).padding(1);
  auto weight = torch::randn({16, 8, 3, 3}) * 0.2, bias = torch::randn({16}) * 0.1;
  FoldedConv conv(options, weight, bias, /*relu=*/true);
  torch::InferenceMode inference;
  auto x = torch::randn({2, 8, 12, 12}).contiguous(torch::MemoryFormat::ChannelsLast);
  auto fp32 = conv->forward(x);
  EXPECT_LE((fp32 - torch::conv2d(x, weight, bias, 1, 1).relu()).abs().max().item<double>(), 1e-4);
  conv->to(torch::kBFloat16);
  for (int64_t rows : {2, 1}) {
    auto xb = x.slice(0, 0, rows).to(torch::kBFloat16);
    auto got = conv->forward(xb);
    ASSERT_EQ(got.scalar_type(), torch::kBFloat16);
    auto want = torch::conv2d(xb, weight.to(torch::kBFloat16), bias.to(torch::kBFloat16), 1, 1).relu();
    // Both accumulate in fp32 and round once to bf16 (8 bits of mantissa): a rounding step apart.
    auto diff = (got.to(torch::kFloat32) - want.to(torch::kFloat32)).abs().max().item<double>();
    EXPECT_LE(diff, 0.02 * want.abs().max().item<double>()) << "batch " << rows;
    EXPECT_LE((got.to(torch::kFloat32) - fp32.slice(0, 0, rows)).abs().max().item<double>(), 0.05 * fp32.abs().max().item<double>());
  }
}

TEST(ModelFile, RoundTripsWeightsAndArchitecture) {
  test::TempDir dir;
  Nn4 model(Nn4Options("nn4.small1").embedding_dim(32).seed(7));
  save_model_file(dir / "m.pt", model);
  auto loaded = load_model_file(dir / "m.pt");
  EXPECT_EQ(loaded.model->options().arch(), "nn4.small1");
  EXPECT_EQ(loaded.model->options().embedding_dim(), 32);
  EXPECT_EQ(loaded.fingerprint, weights_fingerprint(*model));
  EXPECT_TRUE(is_model_file(dir / "m.pt"));
}

TEST(ModelFile, DamagedOrMissingFilesAreNamed) {
  test::TempDir dir;
  test::write_text(dir / "junk.pt", "not an archive");
  for (auto name : {"junk.pt", "missing.pt"}) {
    try {
      load_model_file(dir / name);
      FAIL() << "expected an error for " << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(is_model_file(dir / "junk.pt"));
}
