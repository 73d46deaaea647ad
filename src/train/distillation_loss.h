// distillation_loss.h: teaching the student to embed faces as a teacher does.
//
// The teacher's unit vectors (train/teacher_targets.h) share one large component: for dlib's
// ResNet the mean cosine between different people is about 0.84, so matching them as they are
// mostly teaches that mean. The trainer therefore centres the targets first (subtracts their mean
// over the training images, then re-normalises: centre_targets), and the terms compare the
// student's unit embeddings s_i with the centred unit targets t_i:
//
//   direct      mean_i (1 - <s_i, t_i>)                          (cosine distance; 0..2)
//   relational  mean_{i != j} (<s_i, s_j> - <t_i, t_j>)^2          (the batch's similarity structure)
//
//   loss = weight * (direct_weight * direct + relational_weight * relational)
//
// Neither term needs identity labels, so unlabelled faces (data.unlabelled_pack) take part in
// both; the triplet loss sees only labelled ones.
#pragma once
#include <torch/types.h>

namespace face {

struct DistillationOptions {
  double weight = 0;             // 0: no distillation (the triplet loss alone, as before)
  double direct_weight = 1;      // cosine term
  double relational_weight = 1;  // pairwise-similarity term
  // Share of the mean taken off the targets (centre_targets(targets, centring * mean)): 1 removes
  // the shared component entirely; less keeps part of it, and with it more of the teacher's
  // ranking of its closest pairs of different people, which full centring reorders
  // (experiments/nn4-strict).
  double centring = 1;
};

struct DistillationTerms {
  torch::Tensor direct, relational;  // scalars, before weighting
  torch::Tensor total;               // weight * (direct_weight * direct + relational_weight * relational)
};

// `student` (B, D) unit rows; `targets` (B, D) unit rows (centred).
DistillationTerms distillation_loss(const torch::Tensor& student, const torch::Tensor& targets,
                                    const DistillationOptions& options);

// (N, D) teacher targets -> the same minus `mean` (D), rows re-normalised to unit length.
torch::Tensor centre_targets(const torch::Tensor& targets, const torch::Tensor& mean);

}  // namespace face
