#!/usr/bin/env bash
# Issue #25, item 3: the levers at one equal CPU budget in wall time (not steps: online teaching
# costs a teacher forward per step, the loss terms cost next to nothing), beside today's recipe
# (configs/nn4-cpu.yaml: distillation alone, precomputed targets), in the run's precision (bf16
# where the CPU has it natively). Rows:
#   base     the recipe as it is
#   online   + online teaching: the teacher embeds each step's augmented view (data.online_teacher)
#   lowfar   + the low-FAR term (loss.low_far, train/low_far_loss.h)
#   centres  + CosFace through the teacher's fixed class centres (loss.softmax.centres: teacher)
#   ROW+ROW  a combination, e.g. online+lowfar; ROW@SEED another seed (e.g. base@1)
#
# The budget: BUDGET_MIN minutes of training steps on an idle machine. Each row first runs a short
# calibration (CAL_STEPS steps, no evaluation) that measures its own images/s; its length is then
# BUDGET_MIN * 60 * images/s / batch, written to runs/ROW.steps once, so a resumed or a slowed
# row (another process sharing the cores) keeps the length it was given; ROW@SEED runs as many
# steps as ROW. Evaluation time is not
# part of the budget (every row evaluates every 400 steps alike). Every row is selected on LFW
# View 1 by the trainer, then its best.pt is scored on View 1 by `evaluate` (VAL at strict FARs).
# View 2 is not used. Resumable: a second call continues unfinished rows and skips finished ones.
# `run.sh table` prints the README's table from the finished rows.
#
#   ROWS  which rows (default "base online lowfar centres")   BUDGET_MIN  (default 11)
#   CAL_STEPS (default 60)   PRECISION (default auto)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/nn4-budget
BUDGET_MIN="${BUDGET_MIN:-11}"
CAL_STEPS="${CAL_STEPS:-60}"
PRECISION="${PRECISION:-auto}"
read -r -a rows <<< "${ROWS:-base online lowfar centres}"
TEACHER=experiments/data/dlib-resnet.pt

lever_flags() {
  case "$1" in
    base) ;;
    online) echo "--set data.online_teacher=$TEACHER" ;;
    lowfar) echo "--set loss.low_far.weight=1" ;;
    centres) echo "--set loss.name=cosface --set loss.softmax.centres=teacher --set loss.softmax.weight=0.05" ;;
    *) echo "run.sh: unknown lever '$1'" >&2; exit 2 ;;
  esac
}

# ROW = lever[+lever...][@seed]
row_flags() {
  local row=$1 seed=0 levers
  [[ "$row" == *@* ]] && seed="${row#*@}"
  levers="${row%@*}"
  echo "--set run.seed=$seed --set runtime.precision=$PRECISION"
  local IFS=+
  for lever in $levers; do lever_flags "$lever"; done
}

trainer() {  # trainer NAME STEPS LOG [more flags]
  local name=$1 steps=$2 log=$3; shift 3
  # shellcheck disable=SC2046
  build/trainer --config configs/nn4-cpu.yaml --resume auto --set "run.dir=$OUT/runs" --set "run.name=$name" \
    --set "length.steps=$steps" --set logging.progress=false "$@" >> "$log" 2>&1
}

# The row's images/s over the calibration's last logged windows (the first holds the warm-up).
measured_rate() {
  .venv/bin/python - "$1" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"kind":"train"' in l]
print(statistics.median(r["images_per_s"] for r in rows[1:]))
PY
}

key() { grep -E "^  $1:" configs/nn4-cpu.yaml | awk '{print $2}'; }  # a data.* number of the recipe

steps_of() {
  local row=$1
  if [[ "$row" == *@* ]]; then steps_of "${row%@*}"; return; fi  # another seed: the same length
  if [ ! -f "$OUT/runs/$row.steps" ]; then
    # shellcheck disable=SC2046
    trainer "cal-$row" "$CAL_STEPS" "$OUT/runs/cal-$row.log" $(row_flags "$row") \
      --set evaluation.every_steps=1000000 --set checkpoint.every_steps=1000000 --set checkpoint.every_minutes=1000
    local rate batch
    rate=$(measured_rate "$OUT/runs/cal-$row/metrics.jsonl")
    batch=$(( $(key p) * $(key k) + $(key unlabelled_per_batch) ))  # images a step
    .venv/bin/python -c "print(round($BUDGET_MIN * 60 * $rate / $batch))" > "$OUT/runs/$row.steps"
    echo "$row: $rate images/s in calibration, $(cat "$OUT/runs/$row.steps") steps for $BUDGET_MIN min" | tee -a "$OUT/runs/budget.log" >&2
  fi
  cat "$OUT/runs/$row.steps"
}

# `run.sh table`: one line per finished row (the trainer's metrics and evaluate's View 1 report).
if [ "${1:-}" = table ]; then
  .venv/bin/python - "$OUT/runs" <<'PY'
import json, os, statistics, sys
runs = sys.argv[1]
print("| row | steps | images | images/s (median window) | LFW View 1 (evaluate) | VAL@1e-2 | VAL@1e-3 | AUC "
      "| CelebA held-out (last eval) | teacher distance held-out / train |")
print("|---|---|---|---|---|---|---|---|---|---|")
for row in sorted(d for d in os.listdir(runs) if os.path.isdir(os.path.join(runs, d)) and not d.startswith("cal-")):
    report = os.path.join(runs, row, "lfw-view1", "report.json")
    if not os.path.exists(report):
        continue
    lines = [json.loads(l) for l in open(os.path.join(runs, row, "metrics.jsonl"))]
    train = [l for l in lines if l["kind"] == "train"]
    last = [l for l in lines if l["kind"] == "eval"][-1]
    m = json.load(open(report))["metrics"]
    val = {v["far_target"]: v["val_mean"] for v in m["val"]}
    print(f"| {row} | {last['step']} | {last['step'] * 96:,} | {statistics.median(t['images_per_s'] for t in train):.0f} "
          f"| {m['accuracy_mean']:.4f} +- {m['accuracy_std']:.4f} | {val[0.01]:.3f} | {val[0.001]:.3f} | {m['auc']:.4f} "
          f"| {last['validation_accuracy']:.4f} | {last['validation_distill_direct']:.3f} / {last['train_distill_direct']:.3f} |")
PY
  exit 0
fi

mkdir -p "$OUT/runs"
if [[ "${rows[*]}" == *online* ]] && [ ! -f "$TEACHER" ]; then
  build/export_dlib --out "$TEACHER" --threshold 0.36  # the teacher as a model file (its threshold matters to nothing here)
fi
for row in "${rows[@]}"; do
  steps=$(steps_of "$row")
  # shellcheck disable=SC2046
  trainer "$row" "$steps" "$OUT/runs/$row.log" $(row_flags "$row")
  [ -f "$OUT/runs/$row/lfw-view1/report.json" ] || build/evaluate --pairs ../shared/data/lfw/pairsDevTest.txt \
    --images experiments/data/lfw-chip --model "$OUT/runs/$row/best.pt" --out "$OUT/runs/$row/lfw-view1" \
    > "$OUT/runs/$row/lfw-view1.log" 2>&1
done
