// evaluation_report.h: what `evaluate` writes: a JSON report, the ROC as CSV, per-pair scores as
// CSV, and a short human summary.
//
// The JSON report holds everything needed to trust and reproduce a figure: the metrics and the
// per-fold table, the model (kind, description, weights fingerprint), the options and their
// fingerprint, the pair list's checksum and format, image and pair counts with what was skipped
// and why, timings per stage, and run_info (commit, host, time, LibTorch). Keys:
//   tool, run_info, model{kind, description, fingerprint}, config{fingerprint, options{...}},
//   pairs{file, format, checksum, folds, listed, scored, skipped, same, different},
//   images{source, distinct, embedded, missing, missing_examples[], unreadable,
//          unreadable_examples[], align_fallback},
//   metrics{accuracy_mean, accuracy_std, val[{far_target, val_mean, val_std, far_mean}], auc, eer,
//           best_threshold, best_accuracy, distance},
//   folds[{fold, pairs, threshold, accuracy}],
//   impostor_thresholds{images, identities, impostor_pairs, at[{far_target, threshold, accepted}]}
//          (LFW lists only, else null: eval/impostor_thresholds.h),
//   timings_s{stage: seconds}, warnings[], outputs{...}
// Numbers are written in full precision; NaN or infinity as null.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/impostor_thresholds.h"
#include "eval/pair_list.h"
#include "eval/verification_metrics.h"

namespace face {

struct EvaluationRecord {
  std::string model_kind;  // checkpoint | torchscript | random | pixel | embeddings
  std::string model_description, model_fingerprint;
  std::string distance;    // "l2" (squared) or "cosine"
  std::string pairs_file, pairs_format, pairs_checksum;
  int pairs_folds = 1;     // folds in the file (1 for View 1 and CSV)
  std::string image_source;  // image root or embeddings file
  std::vector<std::pair<std::string, std::string>> options;  // every option in effect, by name
  int64_t pairs_listed = 0, pairs_scored = 0, pairs_same = 0, pairs_different = 0;
  int64_t images_distinct = 0, images_embedded = 0, align_fallback = 0;
  std::vector<std::string> missing, unreadable;  // image paths as listed (unreadable: with the reason)
  std::vector<std::pair<std::string, double>> timings;  // stage -> seconds, in order
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> outputs;  // name -> file written
  std::optional<ImpostorThresholds> impostor;  // over every pair of different people (LFW lists)
};

// Fingerprint of the options and the model fingerprint: two reports with equal config
// fingerprints and pair checksums scored the same thing the same way.
std::string config_fingerprint(const EvaluationRecord& record);

std::string evaluation_json(const EvaluationRecord& record, const VerificationMetrics& metrics);

// "threshold,far,tar" per ROC point, increasing threshold.
std::string roc_csv(const VerificationMetrics& metrics);

// "first,second,same,fold,distance" per scored pair, for cross-checking with other tools.
std::string pair_scores_csv(const std::vector<ImagePair>& pairs, const std::vector<int>& folds,
                            const std::vector<double>& distances);

// A few lines for the terminal: the headline metrics, the fold table and the counts.
std::string evaluation_summary(const EvaluationRecord& record, const VerificationMetrics& metrics);

}  // namespace face
