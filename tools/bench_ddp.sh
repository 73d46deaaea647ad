#!/usr/bin/env bash
# Distributed data-parallel throughput (figures, not a test): the trainer on one process, then on
# N processes under torchrun (Gloo on CPU, NCCL on CUDA), each rank with the same P x K batch, so
# the global batch grows with N (weak scaling). On CPU each process gets cores / N threads.
# Prints images/s of every run (all ranks' images, from rank 0's metrics.jsonl, first window
# dropped as warm-up), the scaling efficiency rate_N / (N x the better single-process rate, with
# all cores' threads or with cores / N), and the machine load.
#
#   tools/bench_ddp.sh PACK [STEPS=30] [N=2] [DEVICE=cpu]
#
# Environment: BUILD_DIR (default build), P and K (default 15 and 4), WORK (scratch folder,
# default a fresh one under /tmp, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
PACK="${1:?usage: tools/bench_ddp.sh PACK [STEPS] [N] [DEVICE]}"
STEPS="${2:-30}"
N="${3:-2}"
DEVICE="${4:-cpu}"
BUILD="${BUILD_DIR:-build}"
P="${P:-15}" K="${K:-4}"
WORK="${WORK:-$(mktemp -d /tmp/bench_ddp.XXXXXX)}"
trap 'rm -rf "$WORK"' EXIT
TORCHRUN=.venv/bin/torchrun
[[ -x "$BUILD/trainer" ]] || { echo "bench_ddp: $BUILD/trainer is not built" >&2; exit 1; }
[[ -x "$TORCHRUN" ]] || { echo "bench_ddp: $TORCHRUN is absent (the venv's torch brings it)" >&2; exit 1; }
[[ -f "$PACK" ]] || { echo "bench_ddp: pack '$PACK' does not exist" >&2; exit 1; }
CORES=$(nproc)
EVERY=$(( STEPS / 6 > 0 ? STEPS / 6 : 1 ))

echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty), $CORES cores, device $DEVICE, $(date -u +%FT%TZ)"
echo "pack $PACK, P=$P K=$K per rank, $STEPS steps, nn4.small2 fp32"

# args RUN_NAME THREADS: the common trainer arguments.
args() {
  echo "--config configs/smoke.yaml --set data.pack=$PACK --set run.dir=$WORK --set run.name=$1" \
       "--set length.steps=$STEPS --set runtime.device=$DEVICE --set runtime.threads=$2 --set data.p=$P --set data.k=$K" \
       "--set data.validation_fraction=0 --set checkpoint.every_steps=0 --set logging.every_steps=$EVERY"
}

# Mean images_per_s of a run's train lines after the first.
rate() {
  python3 - "$WORK/$1/metrics.jsonl" <<'PY'
import json, sys
rates = [json.loads(l)["images_per_s"] for l in open(sys.argv[1]) if '"train"' in l][1:]
print(f"{sum(rates) / len(rates):.2f}")
PY
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/trainer" $(args one "$CORES") > "$WORK/one.log" 2>&1 || { cat "$WORK/one.log"; exit 1; }
one=$(rate one)
echo "1 process, $CORES threads: $one images/s (load $(cut -d' ' -f1-3 /proc/loadavg))"

T=$(( CORES / N > 0 ? CORES / N : 1 ))
# The same process with the per-rank thread count: separates the gain from fewer threads per
# process (intra-op threads synchronise badly on a loaded machine) from the gain of more processes.
if [[ "$T" != "$CORES" ]]; then
  "$BUILD/trainer" $(args one_t "$T") > "$WORK/one_t.log" 2>&1 || { cat "$WORK/one_t.log"; exit 1; }
  one_t=$(rate one_t)
  echo "1 process, $T threads: $one_t images/s (load $(cut -d' ' -f1-3 /proc/loadavg))"
fi
"$TORCHRUN" --standalone --nproc-per-node "$N" --no-python "$BUILD/trainer" $(args many "$T") > "$WORK/many.log" 2>&1 ||
  { cat "$WORK/many.log"; exit 1; }
many=$(rate many)
grep -m1 '^distributed:' "$WORK/many.log" || true
echo "$N processes ($T threads each): $many images/s (load $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$one" "${one_t:-0}" "$many" "$N" "$CORES" "$T" <<'PY'
import sys
one, one_t, many, n, cores, t = map(float, sys.argv[1:])
best = max(one, one_t)  # the better single process is the honest baseline
print(f"speed-up {many / one:.2f}x against 1 process with {cores:.0f} threads"
      + (f", {many / one_t:.2f}x against 1 process with {t:.0f} threads" if one_t else ""))
print(f"scaling efficiency {many / (n * best):.2f} = rate_{n:.0f} / ({n:.0f} x best single-process rate {best:.2f})")
PY
