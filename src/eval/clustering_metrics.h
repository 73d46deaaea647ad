// clustering_metrics.h: how well a clustering (predicted labels) recovers the true identities.
//
// Inputs are one true label and one predicted label per item (any integers: only equality
// matters). All figures come from the contingency table n_ij = |class i ∩ cluster j|, with class
// sizes a_i and cluster sizes b_j:
//
//   pairwise   over unordered pairs of distinct items: a pair is a true positive when both items
//              share a class and a cluster. precision = sum C(n_ij,2) / sum C(b_j,2), recall =
//              sum C(n_ij,2) / sum C(a_i,2), F = their harmonic mean. The measure Otto, Wang and
//              Jain (2017) report on LFW. With no predicted pairs (all singletons) precision is 1;
//              with no true pairs recall is 1.
//   BCubed     per item (Bagga and Baldwin 1998; Amigó et al. 2009): precision = n_ij / b_j,
//              recall = n_ij / a_i for the item's class i and cluster j, each averaged over items;
//              F = the harmonic mean of the two averages.
//   NMI        mutual information over the arithmetic mean of the two entropies, as
//              scikit-learn's normalized_mutual_info_score (its default): 1 when both labelings
//              are a single group, 0 when the mutual information is 0.
#pragma once
#include <cstdint>
#include <vector>

namespace face {

struct ClusteringScores {
  double pairwise_precision = 0, pairwise_recall = 0, pairwise_f = 0;
  double bcubed_precision = 0, bcubed_recall = 0, bcubed_f = 0;
  double nmi = 0;
  int64_t items = 0, classes = 0, clusters = 0;
};

// requires: truth.size() == predicted.size() (face::Error otherwise) and at least one item.
// ensures:  every figure above, each in [0, 1].
ClusteringScores score_clustering(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted);

}  // namespace face
