// pxk_sampler.h: identity-balanced batches for online triplet mining.
//
// Each batch holds P identities x K images: indices grouped by identity, K consecutive entries
// per identity, so batch position b belongs to identity slot b / K. Identities are visited in a
// shuffled order, without repeats until every eligible identity has been used (an epoch); then
// the order is reshuffled. Within an identity, K images are drawn without replacement when it
// has at least K, otherwise all of its images plus draws with replacement.
// Only identities with at least `min_images` images (default 2: a positive needs a second
// image) are eligible.
//
// Everything follows from the seed; state() / restore() capture the generator, the order and
// the cursor, so a resumed run continues the exact same stream.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace face {

struct PxkOptions {
  int64_t p = 15;  // identities per batch (OpenFace: 15, FaceNet: 45)
  int64_t k = 4;   // images per identity (OpenFace: 20, FaceNet: 40; 4 keeps a CPU step small)
  int64_t min_images = 2;
  uint64_t seed = 0;
};

class PxkSampler {
 public:
  // `labels[i]` is the identity of image i.
  PxkSampler(const std::vector<int64_t>& labels, PxkOptions options);

  // Indices of the next batch (size P*K).
  std::vector<int64_t> next();

  int64_t batch_size() const { return options_.p * options_.k; }
  int64_t epoch() const { return epoch_; }
  int64_t eligible_identities() const { return static_cast<int64_t>(by_identity_.size()); }

  std::string state() const;              // opaque text
  void restore(const std::string& state);  // face::Error if it does not belong to this data

 private:
  void reshuffle();
  PxkOptions options_;
  std::vector<std::vector<int64_t>> by_identity_;  // eligible identities' image indices
  std::vector<int64_t> order_;                     // identity visiting order of this epoch
  size_t cursor_ = 0;
  int64_t epoch_ = 0;
  std::mt19937_64 engine_;
};

}  // namespace face
