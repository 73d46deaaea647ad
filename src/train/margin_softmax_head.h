// margin_softmax_head.h: CosFace / ArcFace as a loss head (loss.name cosface | arcface).
//
// The head owns the class centres of the training identities, as insightface's PartialFC owns
// its weights: every training identity gets a class (in label order), held-out identities none,
// so validation never sees a centre fitted to its own images. The centres are learned by the
// optimiser (loss.softmax.centres: learned; parameters()) or running class means
// (prototype: updated after the loss of each step, summed over ranks), and checkpointed as the
// entry "class_centres" (train/checkpoint.h). The term (train/margin_softmax_loss.h) is weighted
// by loss.softmax.weight (0: measured only). Telemetry: softmax_loss (unweighted),
// target_cosine, target_angle_deg, train_accuracy.
#pragma once
#include "train/loss_head.h"

namespace face {

LossHeadRegistration margin_softmax_head_registration();

}  // namespace face
