// bf16 on the CPU (model/precision.h): the choice of precision, the autocast scope, the fused
// LRN's bf16 path, a bf16 embedder and a bf16 training step. These run on every CPU: without
// native bf16 oneDNN emulates it (slowly), and the numerics are the same.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/autocast_mode.h>

#include <thread>

#include "model/embedder.h"
#include "model/local_response_norm.h"
#include "model/nn4.h"
#include "model/precision.h"
#include "util/denormals.h"
#include "util/threads.h"
#include "util/error.h"

using namespace face;

TEST(Precision, NamesAndAutoFollowTheDevice) {
  EXPECT_EQ(precision_from_name("fp32"), Precision::fp32);
  EXPECT_EQ(precision_from_name("bf16"), Precision::bf16);
  EXPECT_THROW(precision_from_name("fp16"), face::Error);
  EXPECT_THROW(resolve_precision("BF16", torch::kCPU), face::Error);
  EXPECT_EQ(resolve_precision("fp32", torch::kCPU), Precision::fp32);
  EXPECT_EQ(resolve_precision("bf16", torch::kCPU), Precision::bf16);
  const bool native = has_native_bf16(torch::kCPU);
  EXPECT_EQ(resolve_precision("auto", torch::kCPU), native ? Precision::bf16 : Precision::fp32);
  const std::string support = bf16_support(torch::kCPU);
  EXPECT_NE(support.find("avx512_bf16"), std::string::npos) << support;
  RecordProperty("cpu_bf16", support);
}

TEST(Precision, AutocastScopeTurnsMatmulsToBf16AndRestoresTheState) {
  auto a = torch::randn({8, 8}), b = torch::randn({8, 8});
  ASSERT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  {
    AutocastScope scope(Precision::bf16, torch::kCPU);
    EXPECT_TRUE(at::autocast::is_autocast_enabled(at::kCPU));
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    {
      AutocastScope off(Precision::fp32, torch::kCPU);  // fp32 leaves the outer scope alone
      EXPECT_TRUE(at::autocast::is_autocast_enabled(at::kCPU));
    }
  }
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
}

TEST(Precision, FusedLrnTakesBf16AndMatchesFloatToBf16Rounding) {
  torch::manual_seed(3);
  auto x32 = (torch::randn({2, 64, 6, 5}) * 20).contiguous(at::MemoryFormat::ChannelsLast);
  auto weighting = torch::randn(x32.sizes());
  auto x16 = x32.to(torch::kBFloat16).detach().requires_grad_(true);
  auto ref = x16.detach().to(torch::kFloat32).requires_grad_(true);  // the same rounded input in float
  auto y16 = local_response_norm(x16);
  auto y32 = local_response_norm_composite(ref);
  EXPECT_EQ(y16.scalar_type(), torch::kBFloat16);
  (y16.to(torch::kFloat32) * weighting).sum().backward();
  (y32 * weighting).sum().backward();
  ASSERT_TRUE(x16.grad().defined());
  EXPECT_EQ(x16.grad().scalar_type(), torch::kBFloat16);
  // bf16 keeps 8 bits of mantissa: relative error up to 2^-8 per stored value.
  auto value_error = ((y16.to(torch::kFloat32) - y32).abs() / y32.abs().clamp_min(1e-3)).max().item<float>();
  EXPECT_LT(value_error, 1.0f / 128) << "value";
  auto g16 = x16.grad().to(torch::kFloat32), g32 = ref.grad();
  auto cosine = (g16 * g32).sum() / (g16.norm() * g32.norm());
  EXPECT_GT(cosine.item<float>(), 0.9999f) << "gradient direction";
  EXPECT_GT((y32 - ref).abs().max().item<float>(), 1.0f) << "the input must actually be normalised";
}

TEST(Precision, Bf16EmbedderAgreesWithFp32AndKeepsUnitRows) {
  auto fp32 = random_embedder("nn4.small2", 5, torch::kCPU, Precision::fp32);
  auto bf16 = random_embedder("nn4.small2", 5, torch::kCPU, Precision::bf16);
  EXPECT_EQ(bf16->precision(), Precision::bf16);
  EXPECT_EQ(fp32->fingerprint(), bf16->fingerprint()) << "the same weights, only run differently";
  torch::manual_seed(4);
  auto images = torch::randint(0, 256, {6, 3, 96, 96}, torch::kUInt8);
  auto a = fp32->embed(images), b = bf16->embed(images);
  EXPECT_EQ(b.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(b.norm(2, 1), torch::ones({6}), 1e-5, 1e-5)) << "rows normalised in fp32";
  auto cosine = (a * b).sum(1);
  EXPECT_GT(cosine.min().item<float>(), 0.99f) << cosine;
  EXPECT_GT((a - b).abs().max().item<float>(), 0.0f) << "bf16 must really have run";
}

// Slow where bf16 is emulated (~10 s a step of 4 faces on an AVX2-only CPU): few, small steps.
TEST(Precision, Bf16TrainingStepKeepsFp32MasterWeightsAndLearns) {
  torch::manual_seed(6);
  Nn4 model(Nn4Options("nn4.small2").seed(1));
  model->train();
  torch::optim::Adam optimiser(model->parameters(), torch::optim::AdamOptions(3e-3));
  auto x = torch::rand({4, 3, 96, 96}).contiguous(at::MemoryFormat::ChannelsLast);
  auto target = torch::nn::functional::normalize(torch::randn({4, 128}),
                                                 torch::nn::functional::NormalizeFuncOptions().dim(1));
  std::vector<float> losses;
  for (int step = 0; step < 5; ++step) {
    torch::Tensor embeddings;
    {
      AutocastScope scope(Precision::bf16, torch::kCPU);
      embeddings = model->forward(x);
    }
    EXPECT_EQ(embeddings.scalar_type(), torch::kBFloat16) << "the network ran in bf16";
    auto loss = (embeddings.to(torch::kFloat32) - target).pow(2).sum(1).mean();
    optimiser.zero_grad();
    loss.backward();
    optimiser.step();
    losses.push_back(loss.item<float>());
  }
  for (auto& p : model->parameters()) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat32) << "master weights stay fp32";
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32) << "so do their gradients";
  }
  EXPECT_LT(losses.back(), 0.8f * losses.front()) << "bf16 steps must learn: " << losses.front() << " -> "
                                                  << losses.back();
}

TEST(Denormals, FlushIsSetInEveryIntraOpThread) {
  at::set_num_threads(2);
  set_flush_denormals(false);  // another test in this process may have set it
  auto tiny = torch::full({1 << 18}, 1e-39f);  // made before: under FTZ the fill itself would flush
  ASSERT_EQ(tiny.count_nonzero().item<int64_t>(), 1 << 18);
  const int set = set_flush_denormals(true);
  if (set == 0) GTEST_SKIP() << "this CPU has no flush-to-zero mode";
  EXPECT_EQ(set, at::get_num_threads());
  EXPECT_TRUE(flush_denormals_on());
  // A denormal input (1e-39 < 1.2e-38) reads as zero in every worker that touches it.
  EXPECT_EQ((tiny * 2.0f).count_nonzero().item<int64_t>(), 0) << "some worker kept denormals";
  set_flush_denormals(false);
  EXPECT_FALSE(flush_denormals_on());
  EXPECT_EQ((tiny * 2.0f).count_nonzero().item<int64_t>(), 1 << 18) << "cleared again in every worker";
}

TEST(Denormals, ConfiguringThreadsFlushesThemInEveryWorker) {
  at::set_num_threads(2);
  set_flush_denormals(false);
  auto tiny = torch::full({1 << 18}, 1e-39f);
  ASSERT_EQ(tiny.count_nonzero().item<int64_t>(), 1 << 18);
  EXPECT_EQ(configure_threads(2), 2);
  if (!flush_denormals_on()) GTEST_SKIP() << "this CPU has no flush-to-zero mode";
  EXPECT_EQ((tiny * 2.0f).count_nonzero().item<int64_t>(), 0) << "some worker kept denormals";
  // A thread started afterwards computes the same way (it inherits the mode).
  bool on_in_new_thread = false;
  std::thread([&] { on_in_new_thread = flush_denormals_on(); }).join();
  EXPECT_TRUE(on_in_new_thread);
  set_flush_denormals(false);
}
