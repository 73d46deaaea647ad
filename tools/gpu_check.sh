#!/usr/bin/env bash
# GPU check for a CUDA machine without OpenCV or network (the H100 test machine): builds the core
# against that machine's torch, runs the core tests and the GPU benchmarks beside the Python
# reference, and writes everything under ${OUT:-experiments/gpu}. Meant to finish in < 8 minutes.
#   REF=path/to/ref_nn4.py (default ../shared/bench/ref_nn4.py, or .bench/ref_nn4.py when carried)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-experiments/gpu}"
mkdir -p "$out"
ref="${REF:-../shared/bench/ref_nn4.py}"
[ -f "$ref" ] || ref=.bench/ref_nn4.py
py=python3
prefix=$($py -c "import torch; print(torch.utils.cmake_prefix_path)")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"

step() { echo "== $*" | tee -a "$out/log.txt"; }
step "configure + build (core only)"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DFACE_WITH_VISION=OFF \
      >>"$out/log.txt" 2>&1 && cmake --build build-gpu -j"$(nproc)" >>"$out/log.txt" 2>&1 || {
  tail -40 "$out/log.txt"; exit 1; }

step "core tests"
ctest --test-dir build-gpu --output-on-failure -j4 2>&1 | tail -15 | tee -a "$out/log.txt"

step "inference benchmarks (C++)"
for flags in "" "--channels-last" "--channels-last --bf16"; do
  build-gpu/bench_infer --device cuda --batch 540 --steps 20 --warm 5 --json $flags | tee -a "$out/bench.jsonl"
done
if [ -x build-gpu/trainer ] && [ -f tools/bench_train.sh ]; then
  step "training benchmarks (C++)"
  DEVICE=cuda BATCH=540 tools/bench_train.sh 2>&1 | tee -a "$out/bench.jsonl"
fi
if [ -f "$ref" ]; then
  step "Python reference"
  timeout 300 $py "$ref" --device cuda --batch 540 --steps 20 --warm 5 --modes eager,cl,cl_bf16,compile_cl_bf16 \
    2>&1 | tee -a "$out/ref.jsonl"
fi
step "done"
