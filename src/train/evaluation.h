// evaluation.h: what the trainer scores a model on while it trains.
//
// Validation: pairs of the training pack's held-out identities (data/validation_pairs.h), 10-fold
// accuracy (1 fold for fewer than 20 pairs), ROC AUC and the best threshold. LFW View 1, when
// evaluation.lfw_pack/lfw_pairs are set: the pair list resolved against the pack
// (eval/packed_pairs.h) when this is made, so a View 2 list or a missing image fails before any
// step. evaluation.select_by picks the score that keeps best.pt. Both are scored by the
// verification protocol `evaluate` reports (eval/verification_protocol.h: squared L2 of unit
// embeddings, k-fold accuracy, AUC). On View 1 it also measures the strict-threshold figure:
// VAL at FAR 1e-3 with the threshold taken over every pair of different people among the
// list's images (1,197,943 pairs for pairsDevTest, eval/impostor_thresholds.h), where the list's
// own 500 impostor pairs cannot place a threshold that strict.
#pragma once
#include <torch/types.h>

#include <cmath>
#include <memory>
#include <vector>

#include "data/pack.h"
#include "data/validation_pairs.h"
#include "eval/packed_pairs.h"
#include "model/nn4.h"
#include "model/precision.h"
#include "train/config.h"

namespace face {

struct EvaluationResult {
  double accuracy = 0, auc = 0, threshold = 0;  // validation: 10-fold accuracy, ROC AUC, best threshold
  int64_t pairs = 0;
  double lfw_accuracy = -1, lfw_auc = -1;      // LFW View 1 (pairsDevTest), when configured
  double lfw_val = -1;                          // its genuine pairs accepted at all-pairs FAR 1e-3 (-1: none)
  int64_t lfw_pairs = 0;
  // Distilling runs: mean cosine distance to the centred teacher vectors of the held-out
  // identities' images and of a sample of training images (NaN otherwise). Both high is
  // under-training; a gap that opens is overfitting to the training faces.
  double validation_distill = std::nan(""), train_distill = std::nan("");
  double score = -1;                            // what selects best.pt
};

class TrainingEvaluation {
 public:
  // Requires: `pack_images` the training pack's uint8 images (kept as a shared handle).
  // Ensures: LFW View 1 loaded when configured; face::Error naming evaluation.lfw_pack /
  // evaluation.lfw_pairs otherwise.
  TrainingEvaluation(const TrainConfig& config, torch::Tensor pack_images, std::vector<ImageIndexPair> validation,
                     torch::Device device);

  bool has_validation() const { return !validation_.empty(); }
  bool has_lfw_view1() const { return lfw_ != nullptr; }
  bool any() const { return has_validation() || has_lfw_view1(); }
  int64_t validation_pairs() const { return static_cast<int64_t>(validation_.size()); }

  // Scores `model` (eval mode while embedding, train mode after). Scores not configured are NaN
  // (validation) or -1 (LFW View 1).
  EvaluationResult evaluate(Nn4& model);
  // From now on evaluate() also compares the validation images and `train_sample` (pack indices
  // of training images) with `targets` (every pack image's centred teacher vector).
  void compare_with_teacher(torch::Tensor targets, std::vector<int64_t> train_sample);

 private:
  torch::Tensor embed(Nn4& model, const torch::Tensor& images, const torch::Tensor& indices);
  void evaluate_validation(Nn4& model, EvaluationResult& r);
  void evaluate_lfw_view1(Nn4& model, EvaluationResult& r);
  void check_strict_selection_possible() const;

  const EvaluationConfig options_;
  const bool channels_last_;
  const Precision precision_;  // runtime.precision resolved for the device
  torch::Tensor pack_images_;
  std::vector<ImageIndexPair> validation_;
  std::unique_ptr<PackedPairs> lfw_;
  std::vector<int64_t> lfw_identities_;  // each View 1 image's person (empty: the list names none)
  torch::Tensor teacher_targets_;  // (pack images, D) on the CPU; undefined: not compared
  torch::Tensor train_sample_;     // int64 pack indices
  torch::Device device_;
};

}  // namespace face
