#include "eval/pair_scoring.h"

#include <torch/torch.h>

#include <algorithm>
#include <unordered_map>

#include "util/error.h"

namespace face {

DistanceKind parse_distance(const std::string& name) {
  if (name == "l2") return DistanceKind::squared_l2;
  if (name == "cosine") return DistanceKind::cosine;
  fail("unknown distance '{}': expected l2 (squared Euclidean) or cosine", name);
}

std::string distance_name(DistanceKind kind) { return kind == DistanceKind::squared_l2 ? "l2" : "cosine"; }

PairIndex index_pair_images(const std::vector<ImagePair>& pairs) {
  PairIndex index;
  std::unordered_map<std::string, int64_t> row_of;
  auto row = [&](const std::string& image) {
    auto [it, added] = row_of.emplace(image, static_cast<int64_t>(index.images.size()));
    if (added) index.images.push_back(image);
    return it->second;
  };
  for (const auto& p : pairs) {
    int64_t a = row(p.first);
    index.rows.push_back({a, row(p.second)});
  }
  return index;
}

torch::Tensor l2_normalise(const torch::Tensor& embeddings) {
  auto norms = embeddings.norm(2, 1, /*keepdim=*/true);
  return embeddings / norms.clamp_min(1e-12);
}

std::vector<double> pair_distances(const torch::Tensor& embeddings, const std::vector<std::array<int64_t, 2>>& rows,
                                   DistanceKind kind) {
  std::vector<double> out;
  out.reserve(rows.size());
  // In chunks, so that wide "embeddings" (the pixel baseline: 27,648 values) need little memory;
  // in double precision, so that near-equal distances do not collapse into ties.
  constexpr size_t kChunk = 512;
  for (size_t start = 0; start < rows.size(); start += kChunk) {
    size_t end = std::min(rows.size(), start + kChunk);
    std::vector<int64_t> a, b;
    for (size_t i = start; i < end; ++i) a.push_back(rows[i][0]), b.push_back(rows[i][1]);
    auto ea = embeddings.index_select(0, torch::tensor(a)).to(torch::kFloat64);
    auto eb = embeddings.index_select(0, torch::tensor(b)).to(torch::kFloat64);
    torch::Tensor d = kind == DistanceKind::squared_l2 ? (ea - eb).pow(2).sum(1) : 1.0 - (ea * eb).sum(1);
    d = d.contiguous();
    out.insert(out.end(), d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  }
  return out;
}

std::vector<int> scoring_folds(const std::vector<ImagePair>& pairs, int file_folds, int folds) {
  std::vector<int> fold_of(pairs.size());
  if (file_folds > 1) {
    for (size_t i = 0; i < pairs.size(); ++i) fold_of[i] = pairs[i].fold;
    return fold_of;
  }
  if (folds < 2) fail("--folds {}: cross-validation needs at least 2 folds", folds);
  int64_t n_same = 0, n_diff = 0;
  for (const auto& p : pairs) (p.same ? n_same : n_diff)++;
  int64_t i_same = 0, i_diff = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].same) fold_of[i] = static_cast<int>(i_same++ * folds / n_same);
    else fold_of[i] = static_cast<int>(i_diff++ * folds / n_diff);
  }
  return fold_of;
}

}  // namespace face
