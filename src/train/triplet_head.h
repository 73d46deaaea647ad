// triplet_head.h: FaceNet's identity term as a loss head (loss.name triplet).
//
// The labelled rows' squared-distance matrix -> triplets mined in the batch (train/miner.h;
// across every rank's batch with distributed.mine_global) -> the triplet loss
// (train/triplet_loss.h), weighted by loss.triplet_weight (0: measured, not trained on). It
// teaches only in a step that mined triplets. Telemetry: triplets, active_fraction (of the mined
// ones, a positive loss), d_ap, d_an (mean squared distances of the mined triplets), triplet_loss
// (unweighted).
#pragma once
#include "train/loss_head.h"

namespace face {

LossHeadRegistration triplet_head_registration();

}  // namespace face
