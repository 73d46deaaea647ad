#include "data/identity_split.h"

#include "util/error.h"
#include "util/hash.h"

namespace face {

IdentitySplit split_by_identity(const std::vector<int64_t>& labels, const std::vector<std::string>& identities,
                                double fraction, uint64_t seed) {
  if (fraction < 0 || fraction >= 1) fail("validation fraction must be in [0, 1), got {}", fraction);
  std::vector<char> in_validation(identities.size());
  IdentitySplit split;
  for (size_t id = 0; id < identities.size(); ++id) {
    uint64_t h = Fnv1a().update(&seed, sizeof(seed)).update(identities[id]).value();
    in_validation[id] = static_cast<double>(h % 1000003) / 1000003.0 < fraction;
    (in_validation[id] ? split.validation_identities : split.train_identities)++;
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= static_cast<int64_t>(identities.size()))
      fail("split_by_identity: label {} of image {} has no identity", labels[i], i);
    (in_validation[labels[i]] ? split.validation : split.train).push_back(static_cast<int64_t>(i));
  }
  return split;
}

}  // namespace face
