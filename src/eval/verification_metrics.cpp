#include "eval/verification_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"

namespace face {

namespace {

// Pairs of a subset sorted by distance, grouped into runs of equal distance; the sweeps below
// move the threshold from below everything to above everything, one run at a time.
struct Sweep {
  std::vector<double> run_distance;            // distinct distances, increasing
  std::vector<int64_t> run_same, run_diff;     // counts in each run
  int64_t total_same = 0, total_diff = 0;

  Sweep(const std::vector<double>& d, const std::vector<bool>& same, const std::vector<bool>& mask) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < d.size(); ++i)
      if (mask.empty() || mask[i]) idx.push_back(i);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return d[a] < d[b]; });
    for (size_t i : idx) {
      if (run_distance.empty() || d[i] != run_distance.back()) {
        run_distance.push_back(d[i]);
        run_same.push_back(0);
        run_diff.push_back(0);
      }
      (same[i] ? run_same : run_diff).back()++;
      (same[i] ? total_same : total_diff)++;
    }
  }
  size_t runs() const { return run_distance.size(); }
  // Threshold accepting runs [0, r): below run r's distance, above run r-1's.
  double threshold_accepting(size_t r) const {
    if (runs() == 0) return 0.0;
    if (r == 0) return run_distance.front() - 1.0;
    if (r == runs()) return run_distance.back() + 1.0;
    return 0.5 * (run_distance[r - 1] + run_distance[r]);
  }
};

double mean(const std::vector<double>& v) { return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double stddev(const std::vector<double>& v) {
  double m = mean(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return v.empty() ? 0 : std::sqrt(s / v.size());
}

// Largest threshold whose false-accept rate over `sweep` is at most `target`.
double threshold_at_far(const Sweep& sweep, double target) {
  int64_t false_accepts = 0;
  size_t best = 0;
  for (size_t r = 0; r < sweep.runs(); ++r) {
    false_accepts += sweep.run_diff[r];
    double far = sweep.total_diff ? double(false_accepts) / sweep.total_diff : 0.0;
    if (far <= target) best = r + 1;
    else break;
  }
  return sweep.threshold_accepting(best);
}

}  // namespace

ThresholdChoice best_accuracy_threshold(const std::vector<double>& d, const std::vector<bool>& same,
                                        const std::vector<bool>& mask) {
  Sweep sweep(d, same, mask);
  int64_t n = sweep.total_same + sweep.total_diff;
  if (n == 0) fail("best_accuracy_threshold: no pairs");
  int64_t correct = sweep.total_diff, best_correct = correct;  // accept nothing: every "different" is right
  size_t best = 0;
  for (size_t r = 0; r < sweep.runs(); ++r) {
    correct += sweep.run_same[r] - sweep.run_diff[r];
    if (correct > best_correct) best_correct = correct, best = r + 1;
  }
  return {sweep.threshold_accepting(best), double(best_correct) / n};
}

double accuracy_at(const std::vector<double>& d, const std::vector<bool>& same, double threshold,
                   const std::vector<bool>& mask) {
  int64_t n = 0, correct = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    if (!mask.empty() && !mask[i]) continue;
    ++n;
    correct += (d[i] < threshold) == same[i];
  }
  return n ? double(correct) / n : 0.0;
}

std::vector<int> contiguous_folds(size_t n, int folds) {
  if (folds < 1 || n < static_cast<size_t>(folds)) fail("verification_metrics: {} pairs cannot make {} folds", n, folds);
  // Contiguous blocks in list order, as LFW's pairs.txt lists its folds; when `folds` does not
  // divide n, the first n % folds blocks are one pair larger (scikit-learn's KFold, which
  // davidsandberg/facenet uses).
  std::vector<int> fold_of(n);
  size_t base = n / folds, extra = n % folds, i = 0;
  for (int f = 0; f < folds; ++f)
    for (size_t k = 0; k < base + (static_cast<size_t>(f) < extra); ++k) fold_of[i++] = f;
  return fold_of;
}

VerificationMetrics verification_metrics(const std::vector<double>& d, const std::vector<bool>& same, int folds,
                                         const std::vector<double>& far_targets) {
  if (folds < 2) fail("verification_metrics: {} folds; cross-validation needs at least 2", folds);
  if (d.size() < static_cast<size_t>(folds))
    fail("verification_metrics: {} pairs cannot fill {} folds: the pair list is shorter than the fold count (use "
         "fewer folds)", d.size(), folds);
  return verification_metrics(d, same, contiguous_folds(d.size(), folds), far_targets);
}

VerificationMetrics verification_metrics(const std::vector<double>& d, const std::vector<bool>& same,
                                         const std::vector<int>& fold_of, const std::vector<double>& far_targets) {
  size_t n = d.size();
  if (same.size() != n) fail("verification_metrics: {} distances but {} labels", n, same.size());
  if (fold_of.size() != n) fail("verification_metrics: {} distances but {} fold labels", n, fold_of.size());
  int folds = 0;
  for (int f : fold_of) {
    if (f < 0) fail("verification_metrics: negative fold label {}", f);
    folds = std::max(folds, f + 1);
  }
  std::vector<int64_t> fold_size(folds, 0);
  for (int f : fold_of) fold_size[f]++;
  if (folds < 2) fail("verification_metrics: {} fold(s); cross-validation needs at least 2", folds);
  for (int f = 0; f < folds; ++f)
    if (fold_size[f] == 0)
      fail("verification_metrics: fold {} of {} has no pairs ({} pairs in all: is the list shorter than its folds?)", f,
           folds, n);
  for (double x : d)
    if (!std::isfinite(x)) fail("verification_metrics: a distance is not finite");

  VerificationMetrics m;
  std::vector<double> accuracies;
  std::vector<std::vector<double>> vals(far_targets.size()), fars(far_targets.size());
  for (int f = 0; f < folds; ++f) {
    std::vector<bool> test(n, false), train(n, true);
    for (size_t i = 0; i < n; ++i)
      if (fold_of[i] == f) test[i] = true, train[i] = false;
    double threshold = best_accuracy_threshold(d, same, train).threshold;
    double accuracy = accuracy_at(d, same, threshold, test);
    m.folds.push_back({threshold, accuracy, fold_size[f]});
    accuracies.push_back(accuracy);

    Sweep train_sweep(d, same, train);
    for (size_t t = 0; t < far_targets.size(); ++t) {
      double thr = threshold_at_far(train_sweep, far_targets[t]);
      int64_t ta = 0, fa = 0, ns = 0, nd = 0;
      for (size_t i = 0; i < n; ++i) {
        if (!test[i]) continue;
        bool accept = d[i] < thr;
        if (same[i]) ns++, ta += accept;
        else nd++, fa += accept;
      }
      vals[t].push_back(ns ? double(ta) / ns : 0.0);
      fars[t].push_back(nd ? double(fa) / nd : 0.0);
    }
  }
  m.accuracy_mean = mean(accuracies);
  m.accuracy_std = stddev(accuracies);
  for (size_t t = 0; t < far_targets.size(); ++t)
    m.val.push_back({far_targets[t], mean(vals[t]), stddev(vals[t]), mean(fars[t])});

  // ROC over all pairs, AUC by the trapezoid rule on it (equal distances form one diagonal step,
  // which is exactly the Mann-Whitney half-credit for ties), EER by interpolation.
  Sweep all(d, same, {});
  auto best = best_accuracy_threshold(d, same);
  m.best_threshold = best.threshold;
  m.best_accuracy = best.accuracy;
  int64_t ta = 0, fa = 0;
  double ns = std::max<int64_t>(all.total_same, 1), nd = std::max<int64_t>(all.total_diff, 1);
  m.roc.push_back({all.threshold_accepting(0), 0.0, 0.0});
  for (size_t r = 0; r < all.runs(); ++r) {
    ta += all.run_same[r];
    fa += all.run_diff[r];
    m.roc.push_back({all.threshold_accepting(r + 1), fa / nd, ta / ns});
  }
  m.eer = 1.0;
  for (size_t i = 1; i < m.roc.size(); ++i) {
    const auto &a = m.roc[i - 1], &b = m.roc[i];
    m.auc += (b.far - a.far) * (a.tar + b.tar) / 2;
    // g(x) = FAR - (1 - TAR) rises from -1 to +1 along the curve; EER is where it crosses 0.
    double ga = a.far - (1 - a.tar), gb = b.far - (1 - b.tar);
    if (ga <= 0 && gb >= 0 && m.eer == 1.0) {
      double t = gb == ga ? 0.0 : -ga / (gb - ga);
      m.eer = a.far + t * (b.far - a.far);
    }
  }
  return m;
}

}  // namespace face
