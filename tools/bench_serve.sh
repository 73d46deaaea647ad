#!/usr/bin/env bash
# Load figures for docs/serve.md: starts `serve` on a free loopback port with a fresh gallery,
# runs tools/load_serve.py (verify and identify at 1, 4 and 16 clients by default), stops it.
#   tools/bench_serve.sh A.jpg B.jpg [more tools/load_serve.py options, e.g. --aligned]
#   BUILD_DIR (default build), MODEL (default: the released model), THREADS (intra-op, 0 = all),
#   DETECTORS (0 = one per core), MAX_BATCH (32; 1 = no batching), DURATION (s per level, 20),
#   OUT (default experiments/serve/load.json), DETECTOR (hog | mmod; default: the model recipe's),
#   UPSAMPLE (the detector's upsampling, default 1), PRECISION (the model's and the CNN detector's:
#   fp32 | bf16 | auto, default fp32)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
THREADS="${THREADS:-0}"
DETECTORS="${DETECTORS:-0}"
MAX_BATCH="${MAX_BATCH:-32}"
DURATION="${DURATION:-20}"
OUT="${OUT:-experiments/serve/load.json}"
[ $# -ge 2 ] || { echo "usage: $0 A.jpg B.jpg [load_serve.py options]" >&2; exit 2; }
a=$1 b=$2; shift 2
mkdir -p "$(dirname "$OUT")"

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
model=(); [ -n "${MODEL:-}" ] && model=(--model "$MODEL")
[ -n "${DETECTOR:-}" ] && model+=(--detector "$DETECTOR")
model+=(--upsample "${UPSAMPLE:-1}" --precision "${PRECISION:-fp32}")
"$BUILD_DIR/serve" --listen 127.0.0.1:0 --gallery "bench=$work/bench.db" "${model[@]}" --threads "$THREADS" \
    --detectors "$DETECTORS" --max-batch "$MAX_BATCH" > "$work/serve.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 600); do  # 120 s at most
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/serve.log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$port" ] || { echo "serve did not start listening" >&2; cat "$work/serve.log" >&2; exit 1; }
head -1 "$work/serve.log"
python3 tools/load_serve.py --url "http://127.0.0.1:$port" --a "$a" --b "$b" --gallery bench --enrol bench_person \
    --duration "$DURATION" --json "$OUT" "$@"
echo "results: $OUT"
