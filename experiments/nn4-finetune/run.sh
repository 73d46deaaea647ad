#!/usr/bin/env bash
# Issue #25: the released nn4.small2 fine-tuned towards less-centred teacher targets.
#
# experiments/nn4-strict found that the full centring of the teacher's vectors, which the recipe
# matches (configs/nn4-cpu.yaml, train/distillation_loss.h), itself costs the target its
# strict-threshold quality: over every pair of different people among LFW View 1's images, the
# raw teacher accepts 0.938 of the genuine pairs at FAR 1e-3 and 0.820 at 1e-4, its fully centred
# vectors 0.884 and 0.626, its half-centred ones 0.934 and 0.810. So the student is taught a
# reordered tail. This run starts from the released weights (model.init) and matches
# half-centred targets (loss.distill.centring 0.5), Adam from 5e-4 (100 warm-up steps, cosine to
# 1%), evaluated on View 1 every 400 steps. Resumable: a second call continues (--resume auto).
#
#   experiments/nn4-finetune/run.sh            # trains
#   experiments/nn4-finetune/run.sh release    # scores best.pt the way nn4-long/run.sh does
#   STEPS (default 1500)  CENTRING (default 0.5)  LR (default 0.0005)  SEED (default 0)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/nn4-finetune
STEPS="${STEPS:-1500}"
CENTRING="${CENTRING:-0.5}"
LR="${LR:-0.0005}"
SEED="${SEED:-0}"
NAME="c${CENTRING}-s$SEED"
INIT=models/nn4.small2-celeba-distilled.pt
mkdir -p "$OUT/runs"
if [ "${1:-}" != release ]; then
  build/trainer --config configs/nn4-cpu.yaml --resume auto --set "run.dir=$OUT/runs" --set "run.name=$NAME" \
    --set "run.seed=$SEED" --set "model.init=$INIT" --set "loss.distill.centring=$CENTRING" \
    --set "optimiser.lr=$LR" --set schedule.warmup_steps=100 --set "length.steps=$STEPS" \
    --set evaluation.every_steps=400 --set evaluation.at_start=true --set checkpoint.every_steps=400 \
    --set logging.progress=false >> "$OUT/runs/$NAME.log" 2>&1
  exit 0
fi
# The release path (tools/release_candidate.sh), then the strict-threshold tail on View 1
# (experiments/nn4-strict). View 2 is scored by hand, once, only for a candidate that beats the
# model card on View 1.
RUN="$OUT/runs/$NAME"
tools/release_candidate.sh "$RUN" "configs/nn4-cpu.yaml $OUT $NAME best.pt (model.init=$INIT)"
experiments/nn4-strict/run.sh experiments/data/lfw-chip ../shared/data/lfw/pairsDevTest.txt "$RUN/candidate.pt" \
  > "$RUN/strict.log" 2>&1
grep -E 'FAR 0.00' "$RUN/strict.log"
