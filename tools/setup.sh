#!/usr/bin/env bash
# One-shot, idempotent set-up for a fresh machine: system packages, the LibTorch venv, and a
# Release build. Usage: tools/setup.sh [--no-build] [--no-vision]
#   FACE_TORCH_VERSION  pins the torch wheel (default below; the single place it is pinned)
#   BUILD_DIR           build folder (default build)
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION="${FACE_TORCH_VERSION:-2.11.0}"
BUILD_DIR="${BUILD_DIR:-build}"
build=1; vision=ON
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --no-vision) vision=OFF ;;
    *) echo "setup.sh: unknown option '$a'" >&2; exit 2 ;;
  esac
done

# --- system packages (Debian) --------------------------------------------------------------
apt_pkgs=(cmake g++ make python3-venv libyaml-cpp-dev libfmt-dev libgtest-dev libcli11-dev
          nlohmann-json3-dev libsqlite3-dev libgloo-dev)  # libgloo-dev: headers for distributed CPU training
[ "$vision" = ON ] && apt_pkgs+=(libopencv-dev libdlib-dev libdlib-data libfaiss-dev)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- LibTorch from PyPI's torch wheel, in the project venv ---------------------------------
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
have=$(.venv/bin/python -c "import torch; print(torch.__version__.split('+')[0])" 2>/dev/null || true)
if [ "$have" != "$TORCH_VERSION" ]; then
  echo "setup: installing torch==$TORCH_VERSION into .venv (have: ${have:-none})"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==$TORCH_VERSION" numpy
fi

[ "$build" = 1 ] || exit 0

# --- configure and build -------------------------------------------------------------------
prefix=$(.venv/bin/python -c "import torch; print(torch.utils.cmake_prefix_path)")
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DFACE_WITH_VISION="$vision" -DPython3_EXECUTABLE="$PWD/.venv/bin/python"
cmake --build "$BUILD_DIR" -j"$(nproc)"
