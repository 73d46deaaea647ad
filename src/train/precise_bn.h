// precise_bn.h: batch-norm statistics recomputed before each evaluation (detectron2's PreciseBN).
//
// Batch-norm running statistics are an exponential average over training batches, far from the
// current weights' statistics early in a run (or after fast changes); evaluating with them
// measures the averaging, not the model. PreciseBN recomputes them as a plain average over fixed
// training batches: the first `batches` batches of the training images in sampler order (no
// randomness, so a resumed run stays identical). Training-mode forwards never read the
// statistics, so the recomputation changes nothing but evaluation (and exported models).
#pragma once
#include <torch/types.h>

#include <vector>

#include "model/precision.h"
#include "train/hooks.h"

namespace face {

struct PreciseBatchNormOptions {
  int64_t batches = 8;     // 0: off
  int64_t batch_size = 60;  // images per batch (the sampler's P x K)
  Precision precision = Precision::fp32;  // the forwards' (bf16: under autocast, model/precision.h)
};

// Requires: `images` uint8 pack images (host or device), `rows` indices into them. Ensures: every
// BatchNorm2d of `model` holds the plain average of its batch statistics over the batches, with
// its momentum as before; the model is left in train mode.
void precise_batch_norm(Nn4& model, const torch::Tensor& images, const std::vector<int64_t>& rows,
                        const torch::Device& device, const PreciseBatchNormOptions& options);

// Runs precise_batch_norm right before every evaluation (on the evaluation hook's schedule; add
// it before that hook).
class PreciseBatchNormHook : public EvaluationScheduled {
 public:
  PreciseBatchNormHook(torch::Tensor images, std::vector<int64_t> rows, PreciseBatchNormOptions options)
      : images_(std::move(images)), rows_(std::move(rows)), options_(options) {}

 private:
  void run(Trainer& t) override;
  torch::Tensor images_;
  std::vector<int64_t> rows_;
  PreciseBatchNormOptions options_;
};

}  // namespace face
