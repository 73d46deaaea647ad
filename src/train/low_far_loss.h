// low_far_loss.h: matching the teacher's decisions at strict thresholds (EKD-style).
//
// Verification runs at a threshold chosen for a false accept rate: at FAR 1e-3 a pair is
// accepted when its similarity beats all but one in a thousand impostor pairs. The direct and
// relational distillation terms (train/distillation_loss.h) weigh every pair alike, so the rare
// impostor pairs that decide the strict thresholds barely move them. This term, after
// Huang et al. 2022 ("Evaluation-oriented knowledge distillation for deep face recognition"),
// compares what each model decides at the same FARs rather than the similarities themselves:
//
//   for each model m (student s, teacher t) and FAR level f_k (1e-1, 1e-2, ... strictest_far):
//     tau_m,k  = the (1 - f_k) quantile of m's similarities over the batch's negative pairs,
//                as a moving average over steps (thresholds.h below; no gradient)
//   decision_m(i, j) = mean_k sigmoid((<m_i, m_j> - tau_m,k) / temperature)   (in [0, 1])
//   loss = mean over the selected pairs of (decision_s - decision_t)^2
//
// Each model is judged against its own thresholds, so the student need not copy the teacher's
// similarity scale, only its ranking of pairs around the strict thresholds. Selected pairs: every
// positive pair (same label) and the hard negatives, those above the loosest threshold for the
// student or for the teacher (both ways a strict decision can go wrong). Negatives are all other
// pairs, rows without labels (unlabelled faces) included: they rarely show one person twice, and
// a wrong negative only nudges a quantile.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace face {

struct LowFarOptions {
  double weight = 0;            // of the term (0: off)
  double strictest_far = 1e-3;  // levels 1e-1, 1e-2, ..., this one (in (0, 0.1])
  double temperature = 0.01;    // of the soft decision, in cosine units
  double momentum = 0.9;        // of the thresholds' moving average (0: this batch's alone)
};

// The FAR levels of `strictest_far`: 1e-1, 1e-2, ... down to it (at least one level).
std::vector<double> far_levels(double strictest_far);


// The thresholds' moving average: `running` (levels) <- momentum * running + (1 - momentum) *
// `batch`; an undefined `running` starts at `batch`.
void update_thresholds(torch::Tensor& running, const torch::Tensor& batch, double momentum);

// Which pairs of a batch of `rows` are positive and negative: the first labels.size(0) rows are
// labelled, the rest are not (negative to every row). Both masks hold the upper triangle only.
struct PairMasks {
  torch::Tensor positive, negative;  // bool (rows, rows)
};
PairMasks pair_masks(const torch::Tensor& labels, int64_t rows);

// The (1 - far) quantile of `similarities` (B, B) over the `negative` pairs, for each level: a
// (levels) tensor, without gradient.
torch::Tensor negative_thresholds(const torch::Tensor& similarities, const torch::Tensor& negative,
                                  const std::vector<double>& levels);

struct LowFarTerms {
  torch::Tensor loss;            // scalar, before weighting
  torch::Tensor decision_gap;    // mean |decision_s - decision_t| over the selected pairs (telemetry)
  torch::Tensor selected_pairs;  // how many pairs took part (telemetry)
};

// Requires: `student`, `teacher` (B, B) the pairwise similarities of the two models' unit rows
// (the student's with its graph); `masks` from pair_masks; thresholds (levels) as above,
// detached. Ensures: the terms above; a batch with no selected pair gives 0.
LowFarTerms low_far_loss(const torch::Tensor& student, const torch::Tensor& teacher, const PairMasks& masks,
                         const torch::Tensor& student_thresholds, const torch::Tensor& teacher_thresholds,
                         double temperature);

}  // namespace face
