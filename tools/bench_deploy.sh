#!/usr/bin/env bash
# Deployment benchmark: verify latency (cold process start and warm, in-process), 1:K search
# (every index kind: build time, memory, single and batched query time, recall against exact
# search) at 10k/100k/1M synthetic embeddings with identity structure, enrolment throughput.
#   tools/bench_deploy.sh MODEL IMAGE_A IMAGE_B [--aligned]
#   tools/bench_deploy.sh --gallery-only       # the search and enrolment part alone
#   BUILD_DIR (default build), SIZES (default 10000,100000,1000000), THREADS (default 0 = all),
#   QUERIES (queries per gallery size, default 200), REPEATS (batched calls, default 3),
#   INDEXES (default exact,exact-fp16,exact-torch,ivf,hnsw), DATA (clustered, faces or uniform;
#   faces: identities spread like the teacher's embeddings of FACES_PACK, default
#   experiments/data/celeba-chip.pack and its .teacher targets),
#   NPROBE (IVF cells probed, each measured; default 16,64,256), NLIST (IVF cells, 0 = sqrt N),
#   EF_SEARCH (HNSW, each measured; default 32,64,128), HNSW_MAX_ROWS (HNSW built only up to
#   this size, default 100000: it takes minutes per million rows on 2 cores), HNSW_M (links per
#   node, default 32), EF_CONSTRUCTION (HNSW candidates per insertion, default 40)
# Prints the machine (date, load, CPU flags that matter) and the figures; the gallery part also
# writes bench_gallery.json in the current folder.
set -euo pipefail
BUILD_DIR="${BUILD_DIR:-build}"
SIZES="${SIZES:-10000,100000,1000000}"
THREADS="${THREADS:-0}"
QUERIES="${QUERIES:-200}"
REPEATS="${REPEATS:-3}"
INDEXES="${INDEXES:-exact,exact-fp16,exact-torch,ivf,hnsw}"
DATA="${DATA:-clustered}"
FACES_PACK="${FACES_PACK:-experiments/data/celeba-chip.pack}"
NPROBE="${NPROBE:-16,64,256}"
NLIST="${NLIST:-0}"
EF_SEARCH="${EF_SEARCH:-32,64,128}"
HNSW_MAX_ROWS="${HNSW_MAX_ROWS:-100000}"
HNSW_M="${HNSW_M:-32}"
EF_CONSTRUCTION="${EF_CONSTRUCTION:-40}"

echo "== machine: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
echo "   CPU flags that matter: $(grep -o -w -E 'avx2|fma|f16c|avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"

gallery() {
  echo "== gallery search and enrolment"
  "$BUILD_DIR/bench_gallery" --sizes "$SIZES" --threads "$THREADS" --queries "$QUERIES" --repeats "$REPEATS" \
    --indexes "$INDEXES" --data "$DATA" --faces-pack "$FACES_PACK" --nprobe "$NPROBE" --nlist "$NLIST" --ef-search "$EF_SEARCH" \
    --hnsw-max-rows "$HNSW_MAX_ROWS" --hnsw-m "$HNSW_M" --ef-construction "$EF_CONSTRUCTION" --out bench_gallery.json
}
if [ "${1:-}" = "--gallery-only" ]; then
  gallery
  exit 0
fi
[ $# -ge 3 ] || { echo "usage: $0 MODEL IMAGE_A IMAGE_B [--aligned] | $0 --gallery-only" >&2; exit 2; }
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

gallery
