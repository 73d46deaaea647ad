#include "eval/clustering_metrics.h"

#include <cmath>
#include <map>

#include "eval/cluster_labels.h"
#include "util/error.h"

namespace face {

namespace {

double pairs_of(double n) { return n * (n - 1) / 2; }
double harmonic(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0; }

double entropy(const std::vector<double>& sizes, double n) {
  double h = 0;
  for (double s : sizes)
    if (s > 0) h -= s / n * std::log(s / n);
  return h;
}

}  // namespace

ClusteringScores score_clustering(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted) {
  if (truth.size() != predicted.size())
    fail("score_clustering: {} true labels but {} predicted labels", truth.size(), predicted.size());
  if (truth.empty()) fail("score_clustering: no items to score");
  ClusteringScores s;
  s.items = static_cast<int64_t>(truth.size());
  auto cls = relabel_by_first_appearance(truth), clu = relabel_by_first_appearance(predicted);
  s.classes = count_clusters(cls), s.clusters = count_clusters(clu);
  std::vector<double> a(s.classes), b(s.clusters);
  std::map<std::pair<int64_t, int64_t>, double> joint;  // the non-zero n_ij
  for (int64_t i = 0; i < s.items; ++i) {
    a[cls[i]] += 1, b[clu[i]] += 1;
    joint[{cls[i], clu[i]}] += 1;
  }
  const double n = static_cast<double>(s.items);

  double same_both = 0, same_cluster = 0, same_class = 0;
  for (const auto& [ij, nij] : joint) same_both += pairs_of(nij);
  for (double bj : b) same_cluster += pairs_of(bj);
  for (double ai : a) same_class += pairs_of(ai);
  s.pairwise_precision = same_cluster > 0 ? same_both / same_cluster : 1;
  s.pairwise_recall = same_class > 0 ? same_both / same_class : 1;
  s.pairwise_f = harmonic(s.pairwise_precision, s.pairwise_recall);

  // Each of the n_ij items of cell (i, j) has precision n_ij / b_j and recall n_ij / a_i.
  double p = 0, r = 0, mi = 0;
  for (const auto& [ij, nij] : joint) {
    p += nij * nij / b[ij.second];
    r += nij * nij / a[ij.first];
    mi += nij / n * std::log(n * nij / (a[ij.first] * b[ij.second]));
  }
  s.bcubed_precision = p / n;
  s.bcubed_recall = r / n;
  s.bcubed_f = harmonic(s.bcubed_precision, s.bcubed_recall);

  if ((s.classes == 1 && s.clusters == 1)) {
    s.nmi = 1;  // neither labeling splits the data (scikit-learn's special case)
  } else {
    double mean_h = (entropy(a, n) + entropy(b, n)) / 2;
    s.nmi = mi <= 0 || mean_h <= 0 ? 0 : std::min(1.0, mi / mean_h);
  }
  return s;
}

}  // namespace face
