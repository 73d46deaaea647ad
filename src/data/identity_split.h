// identity_split.h: a deterministic train/validation split by identity.
//
// An identity goes to validation when a hash of (seed, its name) falls below the validation
// fraction, so the split depends only on names and seed: rebuilding a pack, adding identities or
// reordering them never moves an existing identity to the other side. No identity is in both.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace face {

struct IdentitySplit {
  std::vector<int64_t> train;       // image indices
  std::vector<int64_t> validation;  // image indices
  int64_t train_identities = 0, validation_identities = 0;
};

// labels[i] indexes identities; `fraction` in [0, 1) of identities (approximately) go to validation.
IdentitySplit split_by_identity(const std::vector<int64_t>& labels, const std::vector<std::string>& identities,
                                double fraction, uint64_t seed);

}  // namespace face
