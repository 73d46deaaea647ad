// triplet_loss.h: FaceNet's triplet loss on L2-normalised embeddings.
//
//   L = mean over triplets (a, p, n) of max(||f(a) - f(p)||^2 - ||f(a) - f(n)||^2 + alpha, 0)
//
// Triplets are given as a boolean mask over (anchor, positive, negative) batch positions, the
// form every miner (train/miner.h) produces: a fixed shape, so nothing waits on the device to
// learn how many triplets there are. An empty mask gives a loss of 0 (and zero gradients).
#pragma once
#include <torch/types.h>

namespace face {

// Squared Euclidean distances between all rows of `embeddings` (B, D) -> (B, B), computed from
// the differences (not the Gram trick) so that d(x, x) is exactly 0 and gradients are exact.
torch::Tensor squared_distances(const torch::Tensor& embeddings);

// v[a][p][n] = d(a,p) - d(a,n) + margin, from a (B, B) distance matrix -> (B, B, B).
torch::Tensor triplet_margins(const torch::Tensor& distances, double margin);

struct TripletLossOptions {
  double margin = 0.2;
  // false: mean over all mined triplets (FaceNet). true: mean over the active ones, those with a
  // positive loss (batch_all, Hermans et al.).
  bool average_over_active = false;
};

// `mask` (B, B, B) bool selects the triplets; returns a scalar on the embeddings' device.
torch::Tensor triplet_loss_from_distances(const torch::Tensor& distances, const torch::Tensor& mask,
                                          const TripletLossOptions& options = {});
torch::Tensor triplet_loss(const torch::Tensor& embeddings, const torch::Tensor& mask,
                           const TripletLossOptions& options = {});

}  // namespace face
