#!/usr/bin/env bash
# The levers of issue #25 at one equal CPU budget, beside today's recipe (configs/nn4-cpu.yaml):
#   base     the recipe as it is (distillation alone, precomputed targets)
#   lowfar   + the low-FAR term (loss.low_far, train/low_far_loss.h)
#   centres  + CosFace through the teacher's fixed class centres (loss.softmax.centres: teacher)
#   online   + online teaching: the teacher embeds each step's augmented view (data.online_teacher)
# Rows run the same number of steps. lowfar and centres cost no measurable time per step, so for
# them equal steps are equal budgets; online costs a teacher forward per step, so its wall time
# is compared separately in the README (images/s from each row's metrics.jsonl).
# Rows run one after another on all cores of an otherwise idle machine (so each row's
# images_per_s also shows whether the recipe's throughput holds over a run), selected on LFW
# View 1 by the trainer; then each best.pt is evaluated on View 1 by `evaluate` (VAL at strict FARs).
# Resumable: a second call continues unfinished rows and skips finished ones.
#
#   STEPS   steps per row (default 900)    ROWS   which rows (default "base lowfar centres")
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/nn4-cpu-levers
STEPS="${STEPS:-900}"
read -r -a rows <<< "${ROWS:-base lowfar centres}"

flags_of() {
  case "$1" in
    base) ;;
    lowfar) echo "--set loss.low_far.weight=1" ;;
    centres) echo "--set loss.name=cosface --set loss.softmax.centres=teacher --set loss.softmax.weight=0.05" ;;
    online) echo "--set data.online_teacher=experiments/data/dlib-resnet.pt" ;;
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
# The teacher as a model file, for online teaching (its threshold matters to nothing here).
if [[ " ${rows[*]} " == *" online "* ]] && [ ! -f experiments/data/dlib-resnet.pt ]; then
  build/export_dlib --out experiments/data/dlib-resnet.pt --threshold 0.36
fi
for row in "${rows[@]}"; do train_row "$row"; done
for row in "${rows[@]}"; do
  build/evaluate --pairs ../shared/data/lfw/pairsDevTest.txt --images experiments/data/lfw-chip \
    --model "$OUT/runs/$row/best.pt" --out "$OUT/runs/$row/lfw-view1" > "$OUT/runs/$row/lfw-view1.log" 2>&1
done
