#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/model_file.h"
#include "model/nn4.h"
#include "test_support.h"
#include "util/error.h"

using namespace face;

TEST(Nn4, ParameterCountsMatchOpenFace) {
  // nn4.small2: OpenFace's released nn4.small2.v1; nn4.small1: the count its definition states.
  EXPECT_EQ(count_parameters(*Nn4(Nn4Options("nn4.small2"))), 3733968);
  EXPECT_EQ(count_parameters(*Nn4(Nn4Options("nn4.small1"))), 5579520);
  // nn4: the same stem and blocks as small1 plus 4c/4d, with strided pools (no pooling weights).
  int64_t nn4 = count_parameters(*Nn4(Nn4Options("nn4")));
  EXPECT_GT(nn4, 5579520);
  EXPECT_LT(nn4, 8000000);
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

TEST(Nn4, TrainingModeBackpropagatesToEveryParameter) {
  Nn4 model(Nn4Options().seed(1));
  model->train();
  auto out = model->forward(torch::rand({4, 3, 96, 96}));
  ((out[0] - out[1]).pow(2).sum() + out.sum()).backward();
  for (const auto& p : model->named_parameters())
    EXPECT_TRUE(p.value().grad().defined()) << p.key();
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
