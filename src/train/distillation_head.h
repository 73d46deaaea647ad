// distillation_head.h: the distillation terms as a loss head (loss.distill.weight > 0).
//
// Every row of the batch, labelled or not, against its centred teacher vector
// (train/distillation_loss.h; the targets come with the batch: train/distillation_data.h). The
// term is already weighted (loss.distill.weight) and teaches in every step. Telemetry:
// distill_direct, distill_relational (unweighted).
#pragma once
#include "train/loss_head.h"

namespace face {

LossHeadRegistration distillation_head_registration();

}  // namespace face
