// validation_pairs.h: the held-out pairs the trainer scores while it trains.
//
// Every same-identity pair of the validation images (shuffled, at most max_pairs / 2), each
// followed by one random different-identity pair, so that the list is balanced and any run of
// consecutive pairs (a fold) holds both kinds. Deterministic in the seed.
#pragma once
#include <cstdint>
#include <vector>

namespace face {

struct ImageIndexPair {
  int64_t first, second;
  bool same;
};

// `validation` are image indices into `labels`. Empty when there are no same-identity pairs or
// fewer than two identities.
std::vector<ImageIndexPair> validation_pairs(const std::vector<int64_t>& labels, const std::vector<int64_t>& validation,
                                             int64_t max_pairs, uint64_t seed);

}  // namespace face
