#!/usr/bin/env bash
# Issue #25, item 1: what sets the released student's strict-threshold behaviour. Embeds every
# image of an LFW View 1 list with the released model and with its teacher (dlib's ResNet) and
# runs tools/impostor_tail.py: the distances at FAR 1e-2..1e-4 over every pair of different
# people, and the closest impostor pairs with the teacher's view of them and their alignment.
#
#   experiments/nn4-strict/run.sh [TREE] [PAIRS] [MODEL]
#     TREE   aligned chip tree (default experiments/data/lfw-chip: tools/run.sh's)
#     PAIRS  LFW list (default ../shared/data/lfw/pairsDevTest.txt: View 1, never View 2)
#     MODEL  the student (default: the released model)
set -euo pipefail
cd "$(dirname "$0")/../.."
TREE="${1:-experiments/data/lfw-chip}"
PAIRS="${2:-../shared/data/lfw/pairsDevTest.txt}"
MODEL="${3:-models/nn4.small2-celeba-distilled.pt}"
# Keyed by the model's whole path: every row's candidate.pt has the same file name.
OUT=experiments/nn4-strict/out/$(basename "$TREE")-$(basename "$PAIRS" .txt)-$(echo "${MODEL%.pt}" | tr '/' '_')
mkdir -p "$OUT"
# Every image the list names, once, as TREE/PERSON/PERSON_NNNN.jpg.
.venv/bin/python - "$PAIRS" "$TREE" > "$OUT/images.txt" <<'PY'
import sys
pairs, tree = sys.argv[1], sys.argv[2]
seen = set()
with open(pairs) as f:
    next(f)
    for line in f:
        p = line.split()
        if len(p) == 3: items = [(p[0], p[1]), (p[0], p[2])]
        elif len(p) == 4: items = [(p[0], p[1]), (p[2], p[3])]
        else: continue
        seen.update(f"{tree}/{name}/{name}_{int(i):04d}.jpg" for name, i in items)
print("\n".join(sorted(seen)))
PY
build/embed --list "$OUT/images.txt" --model "$MODEL" --out "$OUT/student.npy" --names "$OUT/student.txt"
# The teacher's embeddings depend on the tree and the list only: made once, shared by every student.
TEACHER=experiments/nn4-strict/out/$(basename "$TREE")-$(basename "$PAIRS" .txt)-teacher
if [ ! -s "$TEACHER/teacher.npy" ] || ! cmp -s "$OUT/images.txt" "$TEACHER/images.txt"; then
  mkdir -p "$TEACHER"
  cp "$OUT/images.txt" "$TEACHER/images.txt"
  build/embed --list "$TEACHER/images.txt" --model dlib-resnet --out "$TEACHER/teacher.npy" --names "$TEACHER/teacher.txt"
  sed -i "s|^$TREE/||" "$TEACHER/teacher.txt"
fi
# Names relative to the tree, as the manifest records them.
sed -i "s|^$TREE/||" "$OUT/student.txt"
.venv/bin/python tools/impostor_tail.py --student "$OUT/student.npy" --student-names "$OUT/student.txt" \
  --teacher "$TEACHER/teacher.npy" --teacher-names "$TEACHER/teacher.txt" --manifest "$TREE/align_manifest.jsonl" \
  --pairs "$PAIRS" --json "$OUT/tail.json" | tee "$OUT/tail.txt"
