#!/usr/bin/env bash
# The levers of issue #25 at one equal CPU budget, beside today's recipe (configs/nn4-cpu.yaml):
#   base     the recipe as it is (distillation alone, precomputed targets)
#   lowfar   + the low-FAR term (loss.low_far, train/low_far_loss.h)
#   centres  + CosFace through the teacher's fixed class centres (loss.softmax.centres: teacher)
# Every row runs the same number of steps: the two levers cost no measurable time per step (the
# run's wall times are in each run.json and in the README), so equal steps are equal budgets.
# Rows run one after another on all cores of an otherwise idle machine (so each row's
# images_per_s also shows whether the recipe's throughput holds over a run), selected on LFW
# View 1 by the trainer; then each best.pt is evaluated on View 1 by `evaluate` (VAL at strict FARs).
# Resumable: a second call continues unfinished rows and skips finished ones.
#
#   STEPS   steps per row (default 1500)    ROWS   which rows (default "base lowfar centres")
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/nn4-cpu-levers
STEPS="${STEPS:-1500}"
read -r -a rows <<< "${ROWS:-base lowfar centres}"

flags_of() {
  case "$1" in
    base) ;;
    lowfar) echo "--set loss.low_far.weight=1" ;;
    centres) echo "--set loss.name=cosface --set loss.softmax.centres=teacher --set loss.softmax.weight=0.05" ;;
    both) echo "--set loss.low_far.weight=1 --set loss.name=cosface --set loss.softmax.centres=teacher --set loss.softmax.weight=0.05" ;;
    *) echo "run.sh: unknown row '$1'" >&2; exit 2 ;;
  esac
}

train_row() {
  local row=$1
  # shellcheck disable=SC2046
  build/trainer --config configs/nn4-cpu.yaml --resume auto --set "run.dir=$OUT/runs" --set "run.name=$row" \
    --set "length.steps=$STEPS" --set logging.progress=false $(flags_of "$row") \
    > "$OUT/runs/$row.log" 2>&1
}

mkdir -p "$OUT/runs"
for row in "${rows[@]}"; do train_row "$row"; done
for row in "${rows[@]}"; do
  build/evaluate --pairs ../shared/data/lfw/pairsDevTest.txt --images experiments/data/lfw-chip \
    --model "$OUT/runs/$row/best.pt" --out "$OUT/runs/$row/lfw-view1" > "$OUT/runs/$row/lfw-view1.log" 2>&1
done
