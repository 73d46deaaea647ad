#include "data/validation_pairs.h"

#include <algorithm>
#include <map>
#include <random>

namespace face {

namespace {
uint64_t below(std::mt19937_64& engine, uint64_t n) { return engine() % n; }  // n is small: bias negligible
}  // namespace

std::vector<ImageIndexPair> validation_pairs(const std::vector<int64_t>& labels, const std::vector<int64_t>& validation,
                                             int64_t max_pairs, uint64_t seed) {
  std::map<int64_t, std::vector<int64_t>> by_identity;
  for (auto i : validation) by_identity[labels[i]].push_back(i);
  std::vector<ImageIndexPair> same, out;
  for (const auto& [label, images] : by_identity)
    for (size_t a = 0; a < images.size(); ++a)
      for (size_t b = a + 1; b < images.size(); ++b) same.push_back({images[a], images[b], true});
  std::mt19937_64 engine(seed);
  for (size_t i = same.size(); i > 1; --i) std::swap(same[i - 1], same[below(engine, i)]);
  same.resize(std::min<size_t>(same.size(), static_cast<size_t>(max_pairs / 2)));
  if (same.empty() || by_identity.size() < 2) return out;
  const auto& v = validation;
  for (const auto& s : same) {
    int64_t a, b;
    do a = v[below(engine, v.size())], b = v[below(engine, v.size())]; while (labels[a] == labels[b]);
    out.push_back(s);
    out.push_back({a, b, false});
  }
  return out;
}

}  // namespace face
