#!/usr/bin/env bash
# Deployment benchmark: verify latency (cold process start and warm, in-process), gallery query
# latency (exact vs FAISS, with recall) at 10k/100k/1M synthetic embeddings, enrolment throughput.
#   tools/bench_deploy.sh MODEL IMAGE_A IMAGE_B [--aligned]
#   BUILD_DIR (default build), SIZES (default 10000,100000,1000000), THREADS (default 0 = all),
#   QUERIES (single queries timed per gallery size, default 200)
# Prints the figures; the gallery part also writes bench_gallery.json in the current folder.
set -euo pipefail
BUILD_DIR="${BUILD_DIR:-build}"
SIZES="${SIZES:-10000,100000,1000000}"
THREADS="${THREADS:-0}"
QUERIES="${QUERIES:-200}"
[ $# -ge 3 ] || { echo "usage: $0 MODEL IMAGE_A IMAGE_B [--aligned]" >&2; exit 2; }
model=$1 a=$2 b=$3; shift 3
extra=("$@")

echo "== verify, one pair (model $model)"
for i in 1 2 3; do
  start=$(date +%s%N)
  rc=0; "$BUILD_DIR/verify" "$a" "$b" --model "$model" --threads "$THREADS" "${extra[@]}" > /dev/null || rc=$?
  end=$(date +%s%N)
  [ "$rc" -le 1 ] || { echo "verify failed (status $rc)" >&2; exit 1; }
  echo "cold run $i: $(( (end - start) / 1000000 )) ms wall (process start, model load, two images, verdict)"
done
"$BUILD_DIR/verify" "$a" "$b" --model "$model" --threads "$THREADS" --repeat 20 "${extra[@]}" | grep timing || true

echo "== gallery search and enrolment"
"$BUILD_DIR/bench_gallery" --sizes "$SIZES" --threads "$THREADS" --queries "$QUERIES" --out bench_gallery.json
