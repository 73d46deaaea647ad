#include "train/miner.h"

#include <torch/torch.h>

namespace face {

namespace {

// One candidate at random per (a, p) row of `candidates` (B, B, B), as a mask of the same shape;
// rows without a candidate stay empty. Random scores, masked, then argmax: no host loop.
torch::Tensor pick_random(const torch::Tensor& candidates) {
  auto scores = torch::rand(candidates.sizes(), candidates.options().dtype(torch::kFloat32));
  scores.masked_fill_(candidates.logical_not(), -1.0);
  auto choice = scores.argmax(2, /*keepdim=*/true);
  return torch::zeros_like(candidates).scatter_(2, choice, true) & candidates.any(2, /*keepdim=*/true);
}

// index (B) -> (B, size) bool, row i true only at column index[i].
torch::Tensor one_hot_rows(const torch::Tensor& index, int64_t size) {
  return torch::nn::functional::one_hot(index, size).to(torch::kBool);
}

}  // namespace

torch::Tensor mine_triplets(const torch::Tensor& distances, const torch::Tensor& labels, const MinerOptions& o) {
  torch::NoGradGuard no_grad;
  const int64_t b = labels.size(0);
  auto d = distances.detach().to(torch::kFloat32);
  auto same = labels.unsqueeze(0) == labels.unsqueeze(1);
  auto eye = torch::eye(b, same.options());
  auto positive = same & eye.logical_not();  // [a][p]
  auto negative = same.logical_not();        // [a][n]
  auto valid = positive.unsqueeze(2) & negative.unsqueeze(1);  // every (a, p, n) triplet
  auto d_ap = d.unsqueeze(2), d_an = d.unsqueeze(1);

  if (o.strategy == MiningStrategy::batch_all) return valid;
  if (o.strategy == MiningStrategy::margin) return pick_random(valid & (d_an - d_ap < o.margin));
  if (o.strategy == MiningStrategy::hard) {
    auto far_positive = d.masked_fill(positive.logical_not(), -1.0).argmax(1);                            // (B)
    auto near_negative = d.masked_fill(negative.logical_not(), std::numeric_limits<float>::infinity()).argmin(1);
    auto usable = positive.any(1) & negative.any(1);                                                       // (B)
    auto mask = one_hot_rows(far_positive, b).unsqueeze(2) & one_hot_rows(near_negative, b).unsqueeze(1);
    return mask & usable.view({b, 1, 1});
  }
  // semihard
  auto chosen = pick_random(valid & (d_an > d_ap) & (d_an < d_ap + o.margin));
  if (o.fallback == MiningFallback::skip) return chosen;
  auto missing = (positive & chosen.any(2).logical_not()).unsqueeze(2);  // (a, p) pairs without one
  torch::Tensor extra;
  if (o.fallback == MiningFallback::random) {
    extra = pick_random(valid);
  } else {
    auto nearest = d.masked_fill(negative.logical_not(), std::numeric_limits<float>::infinity()).argmin(1);
    extra = valid & one_hot_rows(nearest, b).unsqueeze(1);
  }
  return chosen | (extra & missing);
}

}  // namespace face
