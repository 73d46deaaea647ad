#!/usr/bin/env bash
# Short runs of configs/nn4-cpu.yaml's recipe (each variant sets the loss weights it tests) at
# one equal CPU budget: every variant sees 40,000
# training images (about 6 minutes on the 2-core VM), with its whole warm-up + cosine schedule
# inside that budget, and is judged on LFW View 1 (pairsDevTest) at its last step.
#
#   experiments/nn4-cpu-ablation/run.sh ablation     the distillation issue's ablation:
#     triplet       triplet loss only (no distillation, no unlabelled faces)
#     distill       distillation only, CelebA faces only
#     distill-utk   distillation only, + 32 unlabelled UTKFace faces per batch
#     both          triplet + distillation, CelebA only
#     both-utk      triplet + distillation, + UTKFace (the mix of configs/nn4-cpu.yaml)
#   experiments/nn4-cpu-ablation/run.sh softmax      the margin-softmax losses beside `triplet`:
#     cosface                          alone, centres learned by the optimiser (did not learn)
#     cosface-proto, arcface-proto     alone, prototype centres (running class means)
#     cosface-proto-distill, arcface-proto-distill   + distillation (beside `both`)
#     arcface                          alone, learned centres
#     cosface-proto-distill-w005       + distillation, the softmax term at weight 0.05
#
# Batches with UTKFace hold 96 images (64 labelled + 32), the others 64, so the step counts
# differ (416 vs 625) to keep the images seen, and so the CPU time, equal. Each variant resumes
# if interrupted and is skipped once done.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/nn4-cpu-ablation
common=(--config configs/nn4-cpu.yaml --resume auto --set run.dir=$OUT --set schedule.warmup_steps=50
        --set evaluation.every_steps=0 --set checkpoint.every_steps=0 --set logging.progress=false)
labelled=(--set length.steps=625 --set data.unlabelled_per_batch=0 --set data.unlabelled_pack=)
variant() {
  local name=$1; shift
  [ -f "$OUT/$name/done" ] && return 0
  local t0=$(date +%s)
  build/trainer "${common[@]}" --set run.name=$name "$@" > "$OUT/$name.log" 2>&1
  echo "$(( $(date +%s) - t0 )) s" > "$OUT/$name/done"
}
case "${1:-ablation}" in
  ablation)
    variant both-utk    --set length.steps=416 --set loss.triplet_weight=1
    variant distill-utk --set length.steps=416 --set loss.triplet_weight=0
    variant distill     "${labelled[@]}" --set loss.triplet_weight=0
    variant both        "${labelled[@]}" --set loss.triplet_weight=1
    variant triplet     "${labelled[@]}" --set loss.triplet_weight=1 --set loss.distill.weight=0
    ;;
  softmax)
    proto=(--set loss.softmax.centres=prototype)
    variant cosface               "${labelled[@]}" --set loss.name=cosface --set loss.distill.weight=0
    variant cosface-proto         "${labelled[@]}" "${proto[@]}" --set loss.name=cosface --set loss.distill.weight=0
    variant arcface-proto         "${labelled[@]}" "${proto[@]}" --set loss.name=arcface --set loss.distill.weight=0
    variant cosface-proto-distill "${labelled[@]}" "${proto[@]}" --set loss.name=cosface --set loss.distill.weight=1
    variant arcface-proto-distill "${labelled[@]}" "${proto[@]}" --set loss.name=arcface --set loss.distill.weight=1
    variant arcface               "${labelled[@]}" --set loss.name=arcface --set loss.distill.weight=0
    # at weight 1 the softmax term (~30) swamps distillation (~1): the same at 0.05
    variant cosface-proto-distill-w005 "${labelled[@]}" "${proto[@]}" --set loss.name=cosface \
            --set loss.distill.weight=1 --set loss.softmax.weight=0.05
    ;;
  *) echo "usage: $0 ablation|softmax" >&2; exit 2 ;;
esac
