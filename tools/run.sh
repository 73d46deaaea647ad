#!/usr/bin/env bash
# The main job with its defaults, from a fresh machine:
#   set up -> align + pack CelebA (training) and LFW (View 1 during training) -> trainer --config
# configs/nn4.yaml, keeping best.pt by LFW View 1 (pairsDevTest) -> evaluate best.pt on LFW View 2
# (pairs.txt, the final report only). Every step resumes: aligned images, an up-to-date pack and the run's checkpoints
# are kept, so a second call continues where the first stopped.
#   FACE_DATA  dataset root (default ../shared/data)
#   DEVICE     cuda or cpu (default: cuda when nvidia-smi sees a GPU, else cpu)
#   STEPS      override length.steps (the recipe is sized for a GPU; a CPU takes far longer)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
DATA="${FACE_DATA:-../shared/data}"
WORK=experiments/data
RUN=experiments/nn4-celeba
if [ -z "${DEVICE:-}" ]; then
  DEVICE=cpu
  nvidia-smi -L >/dev/null 2>&1 && DEVICE=cuda
fi
[ "$DEVICE" = cpu ] && echo "run.sh: no GPU: training nn4.yaml on the CPU takes many hours (STEPS=N shortens it)" >&2

build/align "$DATA/celeba" "$WORK/celeba-aligned"
build/pack "$WORK/celeba-aligned" "$WORK/celeba.pack"
build/align "$DATA/lfw/deepfunneled" "$WORK/lfw-aligned"
build/pack "$WORK/lfw-aligned" "$WORK/lfw.pack" --min-images 1  # View 1 mismatched pairs use one-image people
extra=(--set "evaluation.lfw_pack=$WORK/lfw.pack" --set "evaluation.lfw_pairs=$DATA/lfw/pairsDevTest.txt"
       --set evaluation.select_by=lfw_view1)
[ -n "${STEPS:-}" ] && extra+=(--set "length.steps=$STEPS")
[ "$DEVICE" = cpu ] && extra+=(--set runtime.precision=fp32)  # the recipe's bf16 autocast is CUDA-only
build/trainer --config configs/nn4.yaml --device "$DEVICE" --resume auto "${extra[@]}"

build/evaluate --pairs "$DATA/lfw/pairs.txt" --images "$WORK/lfw-aligned" --model "$RUN/best.pt" \
               --device "$DEVICE" --out "$RUN/lfw-view2"
