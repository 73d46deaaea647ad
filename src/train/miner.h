// miner.h: online triplet mining inside one P x K batch.
//
// From one forward pass, a miner chooses triplets with the (B, B) matrix of squared distances
// between the batch's embeddings, entirely on the batch's device: vectorised masks over
// (anchor, positive, negative), randomness from the device's default generator (so a resumed
// run that restores it mines the same triplets), no per-triplet host loop and no host sync.
// The result is a (B, B, B) boolean mask: mask[a][p][n] selects the triplet (a, p, n).
// A positive is another batch position with the anchor's label; a negative has another label.
//
//   semihard   FaceNet: for every anchor-positive pair, one negative chosen at random among
//              those with d(a,p) < d(a,n) < d(a,p) + alpha. When there is none, `fallback`:
//              "hardest" takes the closest negative, "random" any negative, "skip" none.
//   hard       batch-hard: per anchor, its farthest positive with its closest negative.
//   batch_all  every valid triplet (the loss then averages over the active ones).
//   margin     davidsandberg/facenet and OpenFace: for every anchor-positive pair, one negative
//              at random among those with d(a,n) - d(a,p) < alpha (hard ones included); none
//              when no negative qualifies.
#pragma once
#include <torch/types.h>

namespace face {

enum class MiningStrategy { semihard, hard, batch_all, margin };
enum class MiningFallback { hardest, random, skip };  // semihard without a negative in the band

struct MinerOptions {
  MiningStrategy strategy = MiningStrategy::semihard;
  MiningFallback fallback = MiningFallback::hardest;
  double margin = 0.2;
};

// `distances` (B, B) squared distances (no gradient needed), `labels` (B) int64, same device.
torch::Tensor mine_triplets(const torch::Tensor& distances, const torch::Tensor& labels, const MinerOptions& options);

}  // namespace face
