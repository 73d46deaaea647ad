#!/usr/bin/env bash
# Sets up and runs the main job with its defaults.
# Until the trainer lands this embeds the LFW images with an untrained nn4.small2.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
DATA="${FACE_DATA:-../shared/data}"
mkdir -p experiments/embed
build/embed "$DATA/lfw/deepfunneled" --out experiments/embed/lfw.npy
