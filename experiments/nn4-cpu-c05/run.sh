#!/usr/bin/env bash
# The 90-minute CPU recipe (configs/nn4-cpu.yaml) from scratch, with the teacher targets half
# centred (loss.distill.centring 0.5, as in the fourth release's fine-tune) and flush-to-zero on
# (the default since #24): does the recipe keep its throughput to the end, and does half
# centring beat the recipe's full centring (experiments/nn4-cpu: View 1 0.917) from scratch?
#   experiments/nn4-cpu-c05/run.sh           # train (resumable), then evaluate best.pt on View 2
set -euo pipefail
cd "$(dirname "$0")/../.."
build/trainer --config configs/nn4-cpu.yaml --resume auto --set run.name=nn4-cpu-c05 "$@"  # the config's centring is 0.5
build/evaluate --pairs ../shared/data/lfw/pairs.txt --images experiments/data/lfw-chip \
  --model experiments/nn4-cpu-c05/best.pt --out experiments/nn4-cpu-c05/lfw-view2
