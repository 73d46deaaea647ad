// verification_protocol.h: the verification protocol (LFW's), from embeddings to metrics.
//
// A pair list's images embedded once each (eval/pair_scoring.h: index_pair_images) -> the pairs
// whose two images have an embedding, in file order -> each pair's distance (squared L2 or
// cosine of unit rows) -> the folds they are scored in (the list's own, LFW View 2's ten; or
// `folds` stratified folds for View 1 and CSV lists) -> k-fold accuracy, VAL@FAR, ROC AUC, EER
// and the best threshold (eval/verification_metrics.h). `evaluate` reports it on a pair list;
// the trainer scores LFW View 1 and its validation pairs with score_pairs.
#pragma once
#include <torch/types.h>

#include <array>
#include <vector>

#include "eval/pair_list.h"
#include "eval/pair_scoring.h"
#include "eval/verification_metrics.h"

namespace face {

struct VerificationProtocol {
  DistanceKind distance = DistanceKind::squared_l2;
  int folds = 10;  // for lists without folds of their own (View 1, CSV)
  std::vector<double> far_targets = {1e-3, 1e-2};
};

struct ScoredPairs {
  std::vector<ImagePair> pairs;   // the scored pairs, in file order
  std::vector<int> folds;         // per scored pair: its fold
  std::vector<double> distances;  // per scored pair
  int64_t same = 0, different = 0;
  VerificationMetrics metrics;
};

// Requires: `embeddings` float (M, D) with unit rows; `row_of[i]` the row of index.images[i]
// (index = index_pair_images(list.pairs)), or -1 for an image without an embedding (its pairs
// are left out). Ensures: the protocol above over the remaining pairs; face::Error when they do
// not hold both kinds, or cannot fill the folds.
ScoredPairs score_pair_list(const PairList& list, const PairIndex& index, const std::vector<int64_t>& row_of,
                            const torch::Tensor& embeddings, const VerificationProtocol& protocol = {});

// The protocol's last steps for pairs given as two rows of `embeddings` (unit rows) each, with
// whether they are one person and their fold (0..k-1, k >= 2, every fold non-empty). The
// distances are returned through `distances` when it is given.
VerificationMetrics score_pairs(const torch::Tensor& embeddings, const std::vector<std::array<int64_t, 2>>& rows,
                                const std::vector<bool>& same, const std::vector<int>& fold_of,
                                const VerificationProtocol& protocol = {}, std::vector<double>* distances = nullptr);

}  // namespace face
