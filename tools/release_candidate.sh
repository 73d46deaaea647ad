#!/usr/bin/env bash
# A training run's best.pt scored and exported the way a release is judged (models/README.md):
#   1. LFW View 1 (pairsDevTest) on the chip tree of tools/run.sh: its best threshold goes into the export;
#   2. export with the chips' alignment recipe, as RUN/candidate.pt;
#   3. View 1 the way the release guard test runs it: raw photos aligned on the fly by the export's recipe.
# It never looks at View 2: a candidate that beats the model card's View 1 figure is scored there
# once, by hand, for the write-up.
#
#   tools/release_candidate.sh RUN_DIR "TRAINING_RUN_NOTE"
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="$1"
NOTE="$2"
DATA="${FACE_DATA:-../shared/data}"
recipe=$(head -1 experiments/data/lfw-chip/align_manifest.jsonl | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["recipe"])')
build/evaluate --pairs "$DATA/lfw/pairsDevTest.txt" --images experiments/data/lfw-chip --model "$RUN/best.pt" \
  --out "$RUN/lfw-view1" > "$RUN/lfw-view1.log" 2>&1
build/export --checkpoint "$RUN/best.pt" --report "$RUN/lfw-view1/report.json" --align-recipe "$recipe" \
  --training-run "$(git rev-parse --short HEAD) $NOTE" --out "$RUN/candidate.pt"
FACE_MODEL= build/evaluate --pairs "$DATA/lfw/pairsDevTest.txt" --images "$DATA/lfw/deepfunneled" --align \
  --model "$RUN/candidate.pt" --out "$RUN/lfw-view1-release-path" > "$RUN/lfw-view1-release-path.log" 2>&1
grep -h -E '^  accuracy  |VAL@FAR=1e-3' "$RUN/lfw-view1.log" "$RUN/lfw-view1-release-path.log"
