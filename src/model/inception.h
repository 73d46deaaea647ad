// inception.h: the Inception block of FaceNet's NN4 family, as OpenFace defines it.
//
// A block runs parallel branches on one input and concatenates their outputs on channels:
//   - one branch per entry of `convs`: 1x1 reduce to `reduce` channels, then kxk (padding k/2,
//     stride `stride`) to `out` channels;
//   - an optional pooling branch (max or L2 pool), optionally followed by a 1x1 projection;
//   - an optional plain 1x1 branch.
// Every convolution is conv + batch norm + ReLU. Branches may end at different spatial sizes
// (a stride-2 pool without padding, say); each output is then zero-padded, centred, to the
// largest size before concatenation. This reproduces Torch7's nn.DepthConcat, which OpenFace's
// released nn4.small2.v1 was trained with, rather than the padding-free layout of the paper.
#pragma once
#include <torch/nn.h>

#include <vector>

namespace face {

enum class PoolKind { none, max, l2 };

struct ConvBranchSpec {
  int64_t reduce, out, kernel, stride = 1;
};

struct PoolBranchSpec {
  PoolKind kind = PoolKind::none;
  int64_t kernel = 3, stride = 1, padding = 0;
  int64_t project = 0;  // 1x1 projection after the pool; 0 = none (pass pooled channels through)
};

struct InceptionSpec {
  const char* name;
  int64_t in_channels;
  std::vector<ConvBranchSpec> convs;
  PoolBranchSpec pool;
  int64_t one_by_one = 0;  // plain 1x1 branch width; 0 = none

  int64_t out_channels() const;
};

// conv + batch norm + ReLU, the unit every layer of the family is built from.
torch::nn::Sequential conv_bn_relu(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                                   int64_t padding = 0);

// `layers` with every Conv2d + BatchNorm2d (+ ReLU) replaced by one FoldedConv
// (model/folded_conv.h): the batch norm folded into the convolution's weights and bias with its
// running statistics, so for eval mode only, and the ReLU fused. Inception blocks inside fold
// their own branches. The other layers are shared, not copied; the trained layers are unchanged.
torch::nn::Sequential fold_batch_norm(const torch::nn::Sequential& layers);

class InceptionImpl : public torch::nn::Module {
 public:
  explicit InceptionImpl(const InceptionSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);
  // Inference only: folds each batch norm into its convolution (model/nn4.h, fold_batch_norm).
  void fold_batch_norm();

 private:
  std::vector<torch::nn::Sequential> branches_;
};
TORCH_MODULE(Inception);

}  // namespace face
