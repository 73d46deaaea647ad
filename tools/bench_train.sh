#!/usr/bin/env bash
# Training throughput of the C++ trainer step beside the Python PyTorch reference, in one command
# on the same machine: nn4.small2, 96x96, batch 96, same threads. Prints both JSON lines, the
# ratio and the machine load (the CPU may be shared; read the figure with the load beside it).
#
#   tools/bench_train.sh [--device cpu|cuda] [--threads 2] [--batch 96] [--steps 5] [--warm 2] [-- extra bench_train flags]
# The same settings can come from the environment (DEVICE=cuda BATCH=540 tools/bench_train.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cpu} THREADS=${THREADS:-2} BATCH=${BATCH:-96} STEPS=${STEPS:-5} WARM=${WARM:-2}
read -r -a EXTRA <<<"${BENCH_FLAGS:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --warm) WARM="$2"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
REF="${REF:-../shared/bench/ref_nn4.py}"
[ -f "$REF" ] || REF=.bench/ref_nn4.py
BENCH="${BUILD_DIR:-build}/bench_train"
[ -x "$BENCH" ] || BENCH=build-gpu/bench_train
echo "load before: $(uptime)"
ref=$("$PY" "$REF" --device "$DEVICE" --threads "$THREADS" --batch "$BATCH" --steps "$STEPS" --warm "$WARM" --modes eager | tail -1)
echo "$ref"
ours=$("$BENCH" --device "$DEVICE" --threads "$THREADS" --batch "$BATCH" --steps "$STEPS" --warm "$WARM" "${EXTRA[@]}" | tail -1)
echo "$ours"
echo "load after: $(uptime)"
"$PY" - "$ref" "$ours" <<'PYEOF'
import json, sys
ref, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"train images/s: C++ trainer {ours['train_img_s']} vs Python reference {ref['train_img_s']}: "
      f"ratio {ours['train_img_s'] / ref['train_img_s']:.2f}x")
PYEOF
