#include "eval/impostor_thresholds.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "util/error.h"

namespace face {

int64_t impostor_pair_count(const std::vector<int64_t>& identity) {
  std::unordered_map<int64_t, int64_t> count;
  for (int64_t id : identity) ++count[id];
  const auto n = static_cast<int64_t>(identity.size());
  int64_t same_pairs = 0;
  for (const auto& [id, c] : count) same_pairs += c * (c - 1) / 2;
  return n * (n - 1) / 2 - same_pairs;
}

ImpostorThresholds impostor_thresholds(const torch::Tensor& rows, const std::vector<int64_t>& identity,
                                       const std::vector<double>& fars, DistanceKind distance,
                                       int64_t min_accepted) {
  const int64_t n = rows.size(0);
  if (static_cast<int64_t>(identity.size()) != n)
    fail("impostor_thresholds: {} identities for {} rows", identity.size(), n);
  for (double f : fars)
    if (!(f > 0 && f < 1)) fail("impostor_thresholds: FAR target {} is not in (0, 1)", f);

  ImpostorThresholds out;
  out.images = n;
  out.identities = static_cast<int64_t>(std::unordered_set<int64_t>(identity.begin(), identity.end()).size());
  out.impostor_pairs = impostor_pair_count(identity);

  std::vector<double> kept;
  int64_t need = 0;  // the smallest distances to keep: the largest k + 1 over the targets kept
  for (double f : fars)
    if (f * static_cast<double>(out.impostor_pairs) >= static_cast<double>(min_accepted)) {
      kept.push_back(f);
      need = std::max(need, static_cast<int64_t>(std::floor(f * static_cast<double>(out.impostor_pairs))) + 1);
    }
  if (kept.empty()) return out;

  // Block by block, the `need` smallest distances from each block's rows to the rows after them,
  // over pairs of different people; the union holds the `need` smallest overall.
  torch::NoGradGuard no_grad;
  torch::Tensor x = rows.to(torch::kFloat32).contiguous();
  torch::Tensor ids = torch::tensor(identity, torch::kInt64);
  const float inf = std::numeric_limits<float>::infinity();
  constexpr int64_t kBlock = 512;
  std::vector<torch::Tensor> smallest;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    torch::Tensor cos = torch::mm(x.slice(0, start, end), x.t());  // (b, n)
    torch::Tensor d = distance == DistanceKind::squared_l2 ? (2.0 - 2.0 * cos).clamp_min(0) : 1.0 - cos;
    torch::Tensor later = torch::arange(n).unsqueeze(0) > torch::arange(start, end).unsqueeze(1);
    torch::Tensor different = ids.unsqueeze(0) != ids.slice(0, start, end).unsqueeze(1);
    d = d.masked_fill(~(later & different), inf).reshape({-1});
    const int64_t k = std::min<int64_t>(need, d.numel());
    smallest.push_back(std::get<0>(torch::topk(d, k, 0, /*largest=*/false, /*sorted=*/false)));
  }
  torch::Tensor all = std::get<0>(torch::cat(smallest).sort());
  all = all.slice(0, 0, need).to(torch::kFloat64).contiguous();
  const double* sorted = all.data_ptr<double>();
  for (double f : kept) {
    const int64_t k = static_cast<int64_t>(std::floor(f * static_cast<double>(out.impostor_pairs)));
    StrictThreshold t;
    t.far_target = f;
    t.threshold = sorted[k];
    t.accepted = std::lower_bound(sorted, sorted + k + 1, t.threshold) - sorted;  // strictly below
    out.at.push_back(t);
  }
  return out;
}

std::vector<int64_t> pair_list_identities(const PairList& list, const std::vector<std::string>& images) {
  if (list.format != "lfw-view1" && list.format != "lfw-view2") return {};
  std::unordered_map<std::string, int64_t> index;
  std::vector<int64_t> out;
  out.reserve(images.size());
  for (const auto& image : images) {
    const std::string person = image.substr(0, image.find('/'));  // LFW's "Name/Name_0001.jpg"
    out.push_back(index.emplace(person, static_cast<int64_t>(index.size())).first->second);
  }
  return out;
}

}  // namespace face
