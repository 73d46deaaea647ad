#!/usr/bin/env bash
# bench.sh: builds in Release and measures every stage beside the Python reference (tools/bench.py
# says what and how). Figures go to experiments/bench/<host>-<device>.{json,md}.
#
#   tools/bench.sh [--device cpu|cuda] [--repeats 3] [--stages train,infer,pipeline,align,evaluate]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD_DIR:-build}"
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$(.venv/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')"
fi
cmake --build "$BUILD" -j"$(nproc)"
exec .venv/bin/python tools/bench.py --build "$BUILD" "$@"
