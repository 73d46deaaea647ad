#include "data/pxk_sampler.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <sstream>

#include "util/error.h"
#include "util/hash.h"

namespace face {

namespace {
// Uniform integer in [0, n) from the engine, identical on every platform (unlike
// std::uniform_int_distribution, whose algorithm the standard leaves open).
uint64_t uniform_below(std::mt19937_64& engine, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = engine(); while (x >= limit);
  return x % n;
}

template <class T>
void portable_shuffle(std::vector<T>& v, std::mt19937_64& engine) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(engine, i)]);
}
}  // namespace

PxkSampler::PxkSampler(const std::vector<int64_t>& labels, PxkOptions options)
    : options_(options), engine_(options.seed) {
  if (options_.p < 2) fail("sampler: P must be at least 2 (negatives need a second identity), got {}", options_.p);
  if (options_.k < 2) fail("sampler: K must be at least 2 (positives need a second image), got {}", options_.k);
  std::map<int64_t, std::vector<int64_t>> groups;
  for (size_t i = 0; i < labels.size(); ++i) groups[labels[i]].push_back(static_cast<int64_t>(i));
  for (auto& [label, indices] : groups)
    if (static_cast<int64_t>(indices.size()) >= options_.min_images) by_identity_.push_back(std::move(indices));
  if (static_cast<int64_t>(by_identity_.size()) < options_.p)
    fail("sampler: P = {} identities per batch, but only {} identities have at least {} images", options_.p,
         by_identity_.size(), options_.min_images);
  reshuffle();
}

void PxkSampler::reshuffle() {
  order_.resize(by_identity_.size());
  std::iota(order_.begin(), order_.end(), 0);
  portable_shuffle(order_, engine_);
  cursor_ = 0;
}

std::vector<int64_t> PxkSampler::next() {
  std::vector<int64_t> batch;
  batch.reserve(batch_size());
  for (int64_t slot = 0; slot < options_.p; ++slot) {
    if (cursor_ == order_.size()) {
      ++epoch_;
      reshuffle();
    }
    const auto& images = by_identity_[order_[cursor_++]];
    int64_t n = static_cast<int64_t>(images.size());
    if (n >= options_.k) {
      // Partial Fisher-Yates over a copy: K distinct images.
      std::vector<int64_t> pool = images;
      for (int64_t i = 0; i < options_.k; ++i) {
        std::swap(pool[i], pool[i + uniform_below(engine_, n - i)]);
        batch.push_back(pool[i]);
      }
    } else {
      batch.insert(batch.end(), images.begin(), images.end());
      for (int64_t i = n; i < options_.k; ++i) batch.push_back(images[uniform_below(engine_, n)]);
    }
  }
  // An identity could be drawn twice in one batch only across an epoch boundary; that is
  // harmless for mining (same-label slots are positives of each other).
  return batch;
}

std::string PxkSampler::state() const {
  std::ostringstream out;
  Fnv1a data_hash;
  for (const auto& g : by_identity_) data_hash.update(g.data(), g.size() * sizeof(int64_t));
  out << "pxk1 " << data_hash.hex() << ' ' << options_.p << ' ' << options_.k << ' ' << epoch_ << ' ' << cursor_
      << ' ' << order_.size();
  for (auto o : order_) out << ' ' << o;
  out << ' ' << engine_;
  return out.str();
}

void PxkSampler::restore(const std::string& state) {
  std::istringstream in(state);
  std::string tag, hash;
  int64_t p, k, epoch;
  size_t cursor, n;
  in >> tag >> hash >> p >> k >> epoch >> cursor >> n;
  if (!in || tag != "pxk1") fail("sampler state is malformed");
  Fnv1a data_hash;
  for (const auto& g : by_identity_) data_hash.update(g.data(), g.size() * sizeof(int64_t));
  if (n != by_identity_.size())
    fail("sampler state belongs to a different data set: it was saved with {} sampled identities, this data has {} "
         "(another pack, split or data.min_images)", n, by_identity_.size());
  if (hash != data_hash.hex())
    fail("sampler state belongs to a different data set: the same number of identities ({}) but other images in "
         "them (the pack was rebuilt or its images changed)", n);
  if (p != options_.p || k != options_.k)
    fail("sampler state was saved with P={} K={}, now P={} K={}", p, k, options_.p, options_.k);
  std::vector<int64_t> order(n);
  for (auto& o : order) in >> o;
  std::mt19937_64 engine;
  in >> engine;
  if (!in || cursor > n) fail("sampler state is malformed");
  order_ = std::move(order);
  cursor_ = cursor;
  epoch_ = epoch;
  engine_ = engine;
}

}  // namespace face
