#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/dead_filters.h"
#include "model/nn4.h"

using namespace face;
namespace nn = torch::nn;

namespace {

// The 3x3 convolution of Inception 5a's first tower and its batch norm, as the released student
// lost them (experiments/nn4-strict): found by walking the network, not by a hard-coded name.
struct Unit {
  nn::Conv2dImpl* conv = nullptr;
  nn::BatchNorm2dImpl* bn = nullptr;
};
std::vector<Unit> units(nn::Module& model) {
  std::vector<Unit> found;
  for (auto& m : model.modules()) {
    auto* seq = m->as<nn::Sequential>();
    if (!seq) continue;
    for (size_t i = 0; i + 1 < seq->size(); ++i)
      if (auto* conv = seq->ptr(i)->as<nn::Conv2d>())
        if (auto* bn = seq->ptr(i + 1)->as<nn::BatchNorm2d>()) found.push_back({conv, bn});
  }
  return found;
}

// Decays filters as training does: to denormal values, not to exact zeros.
void erase(Unit u, const std::vector<int64_t>& filters) {
  torch::NoGradGuard no_grad;
  for (auto f : filters) {
    u.conv->weight[f].mul_(1e-40f);
    u.bn->weight[f].fill_(0.3);
    u.bn->bias[f].fill_(-2.0);  // a ReLU that no longer fires
    u.bn->running_mean[f].fill_(0.5);
    u.bn->running_var[f].fill_(1e-6);
  }
}

std::vector<torch::Tensor> snapshot(nn::Module& model) {
  std::vector<torch::Tensor> all;
  for (auto& p : model.parameters()) all.push_back(p.detach().clone());
  for (auto& b : model.buffers()) all.push_back(b.detach().clone());
  return all;
}

}  // namespace

TEST(DeadFilters, AFreshNetworkHasNoneAndRevivingItChangesNothing) {
  Nn4 model(Nn4Options("nn4.small2").seed(3));
  // Every convolution of the network is in a conv + batch norm unit, and every one is walked.
  size_t convs = 0;
  for (auto& m : model->modules()) convs += m->as<nn::Conv2d>() != nullptr;
  EXPECT_EQ(units(*model).size(), convs);
  EXPECT_EQ(convs, 37u);  // stem 3, then 3a 6, 3b 6, 3c 4, 4a 6, 4e 4, 5a 4, 5b 4
  auto before = snapshot(*model);
  auto revived = revive_dead_filters(*model, 1);
  EXPECT_EQ(revived.filters, 0);
  EXPECT_EQ(revived.units, 0);
  auto after = snapshot(*model);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(before[i].equal(after[i])) << i;
}

TEST(DeadFilters, CountsOnlyFiltersWhoseEveryWeightIsDenormal) {
  Nn4 model(Nn4Options("nn4.small2").seed(3));
  auto all = units(*model);
  Unit late = all[all.size() - 2], early = all[1];
  erase(late, {0, 5, 7});
  erase(early, {2});
  {
    torch::NoGradGuard no_grad;
    late.conv->weight[9].mul_(1e-40f);
    late.conv->weight[9].view(-1)[0] = 1e-3f;  // one live weight keeps the filter alive
  }
  auto found = count_dead_filters(*model);
  EXPECT_EQ(found.filters, 4);
  EXPECT_EQ(found.units, 2);
  EXPECT_EQ(found.weights, 3 * late.conv->weight[0].numel() + early.conv->weight[0].numel());
}

TEST(DeadFilters, ReviveRedrawsDeadFiltersResetsTheirBatchNormAndLeavesTheRest) {
  Nn4 model(Nn4Options("nn4.small2").seed(3));
  auto all = units(*model);
  Unit late = all[all.size() - 2];
  erase(late, {0, 5, 7});
  auto before = snapshot(*model);
  auto revived = revive_dead_filters(*model, 11);
  EXPECT_EQ(revived.filters, 3);
  EXPECT_EQ(revived.units, 1);
  EXPECT_EQ(count_dead_filters(*model).filters, 0);

  const auto& w = late.conv->weight;
  const double fan_out = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
  for (int64_t f : {0, 5, 7}) {
    // The initialiser's spread: N(0, 2 / fan_out), over a few hundred weights.
    double sd = w[f].std().item<double>();
    EXPECT_NEAR(sd, std::sqrt(2.0 / fan_out), 0.25 * std::sqrt(2.0 / fan_out)) << f;
    EXPECT_FLOAT_EQ(late.bn->weight[f].item<float>(), 1.0f);
    EXPECT_FLOAT_EQ(late.bn->bias[f].item<float>(), 0.0f);
    EXPECT_FLOAT_EQ(late.bn->running_mean[f].item<float>(), 0.0f);
    EXPECT_FLOAT_EQ(late.bn->running_var[f].item<float>(), 1.0f);
  }
  EXPECT_FALSE(w[0].equal(w[5]));  // each filter its own draw
  // Every other value is untouched: the live filters of this unit and the rest of the network.
  auto after = snapshot(*model);
  int64_t changed = 0;
  for (size_t i = 0; i < before.size(); ++i) changed += before[i].ne(after[i]).sum().item<int64_t>();
  // Revived: the 3 filters' weights, and per channel gamma, beta, running mean and variance (the
  // conv bias was 0 and stays 0).
  EXPECT_EQ(changed, 3 * w[0].numel() + 3 * 4);

  // The same seed revives the same way.
  Nn4 again(Nn4Options("nn4.small2").seed(3));
  auto all_again = units(*again);
  erase(all_again[all_again.size() - 2], {0, 5, 7});
  revive_dead_filters(*again, 11);
  EXPECT_TRUE(all_again[all_again.size() - 2].conv->weight.equal(w));
}

TEST(DeadFilters, ARevivedUnitFiresAgain) {
  Nn4 model(Nn4Options("nn4.small2").seed(3));
  auto all = units(*model);
  Unit first = all[0];  // the stem's 7x7 convolution: its input is the image itself
  erase(first, {4});
  auto x = torch::rand({4, 3, 96, 96});
  // In training mode, as a fine-tune runs it: the batch norm normalises with the batch's statistics.
  auto channel_after_relu = [&] {
    torch::NoGradGuard no_grad;
    model->train();
    auto y = torch::relu(first.bn->forward(first.conv->forward(x)));
    return y.select(1, 4);
  };
  EXPECT_EQ(channel_after_relu().gt(0).sum().item<int64_t>(), 0);  // dead: never fires
  revive_dead_filters(*model, 5);
  auto fired = channel_after_relu().gt(0).to(torch::kFloat).mean().item<double>();
  EXPECT_GT(fired, 0.3);
  EXPECT_LT(fired, 0.7);
}
