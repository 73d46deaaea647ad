#!/usr/bin/env bash
# Sets up (packages, venv, Release build) and runs every test. Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"
