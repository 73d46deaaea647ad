#include "eval/verification_protocol.h"

#include "util/error.h"

namespace face {

ScoredPairs score_pair_list(const PairList& list, const PairIndex& index, const std::vector<int64_t>& row_of,
                            const torch::Tensor& embeddings, const VerificationProtocol& protocol) {
  ScoredPairs out;
  std::vector<std::array<int64_t, 2>> rows;
  std::vector<bool> same;
  for (size_t i = 0; i < list.pairs.size(); ++i) {
    int64_t a = row_of.at(index.rows[i][0]), b = row_of.at(index.rows[i][1]);
    if (a < 0 || b < 0) continue;
    out.pairs.push_back(list.pairs[i]);
    rows.push_back({a, b});
    same.push_back(list.pairs[i].same);
    (list.pairs[i].same ? out.same : out.different)++;
  }
  if (out.same == 0 || out.different == 0)
    fail("{} pairs remain to score ({} same, {} different): both kinds are needed", out.pairs.size(), out.same,
         out.different);
  out.folds = scoring_folds(out.pairs, list.folds, protocol.folds);
  out.metrics = score_pairs(embeddings, rows, same, out.folds, protocol, &out.distances);
  return out;
}

VerificationMetrics score_pairs(const torch::Tensor& embeddings, const std::vector<std::array<int64_t, 2>>& rows,
                                const std::vector<bool>& same, const std::vector<int>& fold_of,
                                const VerificationProtocol& protocol, std::vector<double>* distances) {
  std::vector<double> d = pair_distances(embeddings, rows, protocol.distance);
  auto metrics = verification_metrics(d, same, fold_of, protocol.far_targets);
  if (distances) *distances = std::move(d);
  return metrics;
}

}  // namespace face
