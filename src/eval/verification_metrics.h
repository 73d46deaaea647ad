// verification_metrics.h: the LFW verification metrics, as davidsandberg/facenet and OpenFace
// report them, computed exactly (no threshold grid).
//
// Inputs are one distance per pair and whether the pair is the same person. A pair is predicted
// "same" when distance < threshold. Candidate thresholds are the midpoints between consecutive
// distinct distances (plus one below and one above all of them), so every achievable split is
// considered and ties are never cut through.
//
//   k-fold accuracy   pairs are split into `folds` contiguous, equal blocks (LFW's pairs.txt lists
//                     its 10 folds in order; when `folds` does not divide the count, the first
//                     count % folds blocks get one pair more, like scikit-learn's KFold, which
//                     facenet uses); for each fold the threshold with the best accuracy on
//                     the OTHER folds (the smallest such, on ties) is applied to the fold itself.
//                     Reported: mean and (population) standard deviation over folds.
//   VAL@FAR           per fold, the largest threshold whose false-accept rate on the other folds is
//                     at most the target; VAL (true-accept rate) and FAR are then measured on the
//                     fold. Reported: mean and std of VAL, mean FAR.
//   ROC AUC           area under the ROC of all pairs = P(d_same < d_diff) + 0.5 P(equal).
//   EER               the rate where FAR = 1 - TAR on the ROC of all pairs (linear interpolation).
//   best threshold    the best-accuracy threshold on all pairs (for deployment), and its accuracy.
#pragma once
#include <cstdint>
#include <vector>

namespace face {

struct FoldMetrics {
  double threshold;  // chosen on the other folds
  double accuracy;   // on this fold
  int64_t pairs;
};

struct ValAtFar {
  double far_target;
  double val_mean, val_std;
  double far_mean;
};

struct RocPoint {
  double threshold, far, tar;  // false-accept and true-accept rates at this threshold
};

struct VerificationMetrics {
  double accuracy_mean = 0, accuracy_std = 0;
  std::vector<FoldMetrics> folds;
  std::vector<ValAtFar> val;
  double auc = 0, eer = 0;
  double best_threshold = 0, best_accuracy = 0;
  std::vector<RocPoint> roc;  // increasing threshold, from (0,0) to (1,1)
};

// `same[i]` is true when pair i shows one person. Needs at least one pair of each kind in every
// fold's complement; fails (face::Error) on mismatched sizes or fewer pairs than folds.
VerificationMetrics verification_metrics(const std::vector<double>& distances, const std::vector<bool>& same,
                                         int folds = 10, const std::vector<double>& far_targets = {1e-3, 1e-2});

// The same with the folds given: `fold_of[i]` (0..k-1, every fold non-empty, k >= 2) is pair i's
// fold, e.g. read from LFW's pairs.txt, so that leaving out pairs (missing images) never moves a
// pair into another fold.
VerificationMetrics verification_metrics(const std::vector<double>& distances, const std::vector<bool>& same,
                                         const std::vector<int>& fold_of,
                                         const std::vector<double>& far_targets = {1e-3, 1e-2});

// The fold labels the first overload uses: `folds` contiguous blocks, the first n % folds one larger.
std::vector<int> contiguous_folds(size_t n, int folds);

// The best-accuracy threshold over the pairs selected by `mask` (all when empty), and its accuracy.
struct ThresholdChoice {
  double threshold, accuracy;
};
ThresholdChoice best_accuracy_threshold(const std::vector<double>& distances, const std::vector<bool>& same,
                                        const std::vector<bool>& mask = {});

// Accuracy of "same iff distance < threshold" over the pairs selected by `mask` (all when empty).
double accuracy_at(const std::vector<double>& distances, const std::vector<bool>& same, double threshold,
                   const std::vector<bool>& mask = {});

}  // namespace face
