// low_far_head.h: the low-FAR term as a loss head (loss.low_far.weight > 0).
//
// Every row of the batch against its centred teacher vector, judged by decisions at strict
// thresholds (train/low_far_loss.h). The head owns the two sets of moving-average thresholds
// (student's and teacher's, one per FAR level), averaged over ranks in distributed runs and kept
// in the checkpoint so a resumed run continues with them. Telemetry: low_far_loss (unweighted),
// low_far_gap (mean decision gap of the selected pairs), low_far_pairs (how many), and the
// strictest level's thresholds low_far_student_tau, low_far_teacher_tau.
#pragma once
#include "train/loss_head.h"

namespace face {

LossHeadRegistration low_far_head_registration();

}  // namespace face
