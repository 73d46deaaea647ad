#!/usr/bin/env bash
# Data benchmarks (figures, not tests): align speed on LFW, pack build and load time, pack memory
# and PxK sampler throughput. Prints the machine load with every figure, since align shares the
# cores with whatever else runs.
#
#   tools/bench_data.sh [N_IMAGES=500] [THREADS=0]
#
# Environment: FACE_DATA (default ../shared/data), BUILD_DIR (default build),
# WORK (scratch folder, default a fresh one under /tmp, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-500}"
THREADS="${2:-0}"
DATA="${FACE_DATA:-../shared/data}"
BUILD="${BUILD_DIR:-build}"
WORK="${WORK:-$(mktemp -d /tmp/bench_data.XXXXXX)}"
trap 'rm -rf "$WORK"' EXIT

for tool in align pack bench_pack; do
  [[ -x "$BUILD/$tool" ]] || { echo "bench_data: $BUILD/$tool is not built" >&2; exit 1; }
done
[[ -d "$DATA/lfw/deepfunneled" ]] || { echo "bench_data: $DATA/lfw/deepfunneled is absent" >&2; exit 1; }

echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty), $(nproc) cores, $(date -u +%FT%TZ)"

# The first N LFW images (sorted), linked into a scratch tree so align sees <identity>/<image>.
mkdir -p "$WORK/raw"
(cd "$DATA/lfw/deepfunneled" && find . -name '*.jpg' | sort | sed -n "1,${N}p") | while read -r f; do
  mkdir -p "$WORK/raw/$(dirname "$f")"
  ln -s "$(realpath "$DATA/lfw/deepfunneled/$f")" "$WORK/raw/$f"
done

echo "== align: $N LFW images, --threads $THREADS (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
start=$(date +%s.%N)
"$BUILD/align" "$WORK/raw" "$WORK/aligned" --threads "$THREADS" > "$WORK/align.out" 2> "$WORK/align.err"
end=$(date +%s.%N)
grep '^align:' "$WORK/align.out"
awk -v n="$N" -v s="$start" -v e="$end" 'BEGIN {
  r = n / (e - s); printf "align wall time %.1f s = %.1f images/s (incl. loading the models); all 13,233 LFW images would take %.1f min\n", e - s, r, 13233 / r / 60 }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== pack build from the $N aligned images"
start=$(date +%s.%N)
"$BUILD/pack" "$WORK/aligned" "$WORK/bench.pack" --force --threads "$THREADS"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "pack build wall time %.2f s\n", e - s }'
"$BUILD/pack" "$WORK/aligned" "$WORK/bench.pack" | sed 's/^/second call: /'

echo "== pack load and sampler on the small pack"
"$BUILD/bench_pack" "$WORK/bench.pack" --p 15 --k 20 --batches 2000 | grep -v '^run:' || true

# The full packs, when they exist (see docs/data.md for how they are made).
for big in ${FACE_PACKS:-experiments/data/lfw.pack experiments/data/celeba.pack}; do  # made by align + pack (tools/run.sh)
  for p in $big; do
    [[ -f "$p" ]] || continue
    echo "== $p"
    "$BUILD/bench_pack" "$p" --p 15 --k 20 --batches 5000 | grep -v '^run:'
  done
done
