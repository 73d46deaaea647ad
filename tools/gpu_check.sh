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

step "benchmarks: training step and inference, C++ beside the Python reference (tools/bench.py)"
timeout 420 $py tools/bench.py --device cuda --build build-gpu --python $py --ref "$ref" --stages train,infer \
  --batch 540 --steps 20 --warm 5 --repeats 2 --compile --out "$out" 2>&1 | tee -a "$out/log.txt"
step "done"
