#!/usr/bin/env bash
# The main job with its defaults, from a fresh machine. Every step resumes (aligned images, an
# up-to-date pack or teacher-target file and the run's checkpoints are kept), so a second call
# continues where the first stopped.
#
# Without a GPU (configs/nn4-cpu.yaml: about 80 minutes of training on two cores in fp32):
#   align CelebA, LFW and UTKFace as dlib face chips (150 px) -> packs -> the teacher's (dlib's
#   ResNet) embeddings of CelebA and UTKFace -> trainer: nn4.small2 distilled from the teacher,
#   best.pt kept by LFW View 1 (pairsDevTest) -> evaluate best.pt on LFW
#   View 2 (pairs.txt, the final report only).
# With a GPU (configs/nn4.yaml): the OpenFace-aligned triplet recipe sized for one GPU.
#
#   FACE_DATA  dataset root (default ../shared/data)
#   DEVICE     cuda or cpu (default: cuda when nvidia-smi sees a GPU, else cpu)
#   STEPS      override length.steps
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
DATA="${FACE_DATA:-../shared/data}"
WORK=experiments/data
if [ -z "${DEVICE:-}" ]; then
  DEVICE=cpu
  nvidia-smi -L >/dev/null 2>&1 && DEVICE=cuda
fi
extra=()
[ -n "${STEPS:-}" ] && extra+=(--set "length.steps=$STEPS")

if [ "$DEVICE" = cpu ]; then
  RUN=experiments/nn4-cpu
  chip=(--template dlib-chip --size 150 --padding 0.25)
  build/align "$DATA/celeba" "$WORK/celeba-chip" "${chip[@]}"
  build/pack "$WORK/celeba-chip" "$WORK/celeba-chip.pack" --size 150
  build/align "$DATA/lfw/deepfunneled" "$WORK/lfw-chip" "${chip[@]}"
  build/pack "$WORK/lfw-chip" "$WORK/lfw-chip.pack" --size 150 --min-images 1  # View 1 mismatched pairs use one-image people
  # UTKFace is one flat folder without identities: its chips go into one folder, packed as one
  # "identity" whose label nothing reads; faces the detector misses are left out, not guessed.
  build/align "$DATA/utkface" "$WORK/utkface-chip/unlabelled" "${chip[@]}" --no-face skip
  build/pack "$WORK/utkface-chip" "$WORK/utkface-chip.pack" --size 150
  build/teacher_targets "$WORK/celeba-chip.pack"
  build/teacher_targets "$WORK/utkface-chip.pack"
  build/trainer --config configs/nn4-cpu.yaml --resume auto "${extra[@]}"
  build/evaluate --pairs "$DATA/lfw/pairs.txt" --images "$WORK/lfw-chip" --model "$RUN/best.pt" --out "$RUN/lfw-view2"
  exit 0
fi

RUN=experiments/nn4-celeba
build/align "$DATA/celeba" "$WORK/celeba-aligned"
build/pack "$WORK/celeba-aligned" "$WORK/celeba.pack"
build/align "$DATA/lfw/deepfunneled" "$WORK/lfw-aligned"
build/pack "$WORK/lfw-aligned" "$WORK/lfw.pack" --min-images 1
extra+=(--set "evaluation.lfw_pack=$WORK/lfw.pack" --set "evaluation.lfw_pairs=$DATA/lfw/pairsDevTest.txt"
        --set evaluation.select_by=lfw_view1)
build/trainer --config configs/nn4.yaml --device "$DEVICE" --resume auto "${extra[@]}"
build/evaluate --pairs "$DATA/lfw/pairs.txt" --images "$WORK/lfw-aligned" --model "$RUN/best.pt" \
               --device "$DEVICE" --out "$RUN/lfw-view2"
