#!/usr/bin/env bash
# Issue #25: the fifth release (models/ at 32fbde5) fine-tuned once more, three ways, toward a
# better strict-threshold tail (VAL at FAR 1e-3). experiments/nn4-balanced's rows and scoring,
# from this start:
#   adamw   the control: AdamW (decoupled decay 0.05), uniform draws, 2,000 steps from 5e-4
#   revive  the same, the filters decay erased re-initialised first (model.revive_dead_filters)
#   lowfar  the same, with the EKD-style low-FAR term (loss.low_far.weight 1)
#
#   experiments/nn4-revive/run.sh ROW | score ROW | score release | table
#   SEED (default 0), STEPS, LR, SELECT (evaluation.select_by) as experiments/nn4-balanced/run.sh takes them
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/nn4-revive START=32fbde5 exec experiments/nn4-balanced/run.sh "$@"
