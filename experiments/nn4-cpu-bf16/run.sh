#!/usr/bin/env bash
# The CPU recipe (configs/nn4-cpu.yaml) in bf16 against fp32 on a CPU that computes bf16
# natively (issue #24 item 2: does a bf16 run follow the fp32 curve at equal steps, and how much
# faster is it; item 3: does its throughput hold to the end). Both rows run the recipe's own
# schedule (3,750 steps, same seed and data); `fp32` stops at STOP_FP32 steps (its curve is only
# needed where the two overlap), `bf16` runs to the end. Rows run one after another on all cores of
# an otherwise idle machine; each best.pt is then evaluated on LFW View 1 by `evaluate`, and the
# finished bf16 run on View 2 once (the report). Resumable: a second call continues.
#
#   STOP_FP32  steps of the fp32 row (default 1600)    ROWS  which rows (default "bf16 fp32")
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/nn4-cpu-bf16
STOP_FP32="${STOP_FP32:-1600}"
read -r -a rows <<< "${ROWS:-bf16 fp32}"
mkdir -p "$OUT/runs"
for row in "${rows[@]}"; do
  stop=(); [ "$row" = fp32 ] && stop=(--stop-after "$STOP_FP32")
  build/trainer --config configs/nn4-cpu.yaml --resume auto --set "run.dir=$OUT/runs" --set "run.name=$row" \
    --set "runtime.precision=$row" --set logging.progress=false "${stop[@]}" > "$OUT/runs/$row.log" 2>&1
done
for row in "${rows[@]}"; do
  build/evaluate --pairs ../shared/data/lfw/pairsDevTest.txt --images experiments/data/lfw-chip \
    --model "$OUT/runs/$row/best.pt" --out "$OUT/runs/$row/lfw-view1" > "$OUT/runs/$row/lfw-view1.log" 2>&1
done
if [[ " ${rows[*]} " == *" bf16 "* ]]; then
  build/evaluate --pairs ../shared/data/lfw/pairs.txt --images experiments/data/lfw-chip \
    --model "$OUT/runs/bf16/best.pt" --out "$OUT/runs/bf16/lfw-view2" > "$OUT/runs/bf16/lfw-view2.log" 2>&1
fi
