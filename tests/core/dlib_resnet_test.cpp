// dlib's ResNet (the teacher) in LibTorch: its building blocks and shape.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/dlib_resnet.h"

TEST(DlibResNet, ShapesZeroExtendedAddAndUnitOutput) {
  auto a = torch::ones({1, 2, 3, 3}), b = torch::full({1, 1, 4, 4}, 2.0);
  auto sum = face::add_zero_extended(a, b);
  ASSERT_EQ(sum.sizes(), (std::vector<int64_t>{1, 2, 4, 4}));
  EXPECT_EQ(sum[0][0][0][0].item<float>(), 3);   // both
  EXPECT_EQ(sum[0][0][3][3].item<float>(), 2);   // b only (a ends at 3x3)
  EXPECT_EQ(sum[0][1][0][0].item<float>(), 1);   // a only (b has one channel)
  EXPECT_EQ(sum[0][1][3][3].item<float>(), 0);   // neither
  face::DlibResNet net;
  net->eval();
  torch::NoGradGuard no_grad;
  auto out = net->forward(torch::rand({2, 3, 150, 150}));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 128}));
  EXPECT_NEAR(out.norm(2, 1).min().item<double>(), 1.0, 1e-5);
  // 29 convolutions (the "29-layer" ResNet) and 28 + 1 affine layers, in forward order.
  auto layers = net->layers();
  EXPECT_EQ(layers.convs.size(), 29u);
  EXPECT_EQ(layers.affines.size(), 29u);
}
