#!/usr/bin/env bash
# experiments/cluster/run.sh: every figure of experiments/cluster/README.md, from the repository
# root of a built checkout (tools/setup.sh). Outputs go under experiments/cluster/ and
# experiments/data/ (both git-ignored but for this script and the README).
#   experiments/cluster/run.sh [lfw|celeba|sweep|default|raw|scale|all]
set -euo pipefail
cd "$(dirname "$0")/../.."
B=build D=experiments/data E=experiments/cluster
LFW=../shared/data/lfw/deepfunneled CELEBA=../shared/data/celeba
what=${1:-all}
log() { echo "== $*" >&2; }

# The aligned trees, made once (align resumes; the recipe is the released model's and the
# teacher's: a dlib chip, padding 0.25, at 150 px; models/README.md).
aligned_lfw() {
  nice -n 10 $B/align $LFW $D/lfw-chip --template dlib-chip --size 150 >&2
}
# CelebA's identities the released model never trained on: data/identity_split.cpp's split of
# the folder names (FNV-1a of the 8 bytes of seed 0, then the name; validation when the hash
# mod 1000003, over 1000003, is below configs/nn4-cpu.yaml's validation_fraction 0.1): 383
# identities, as the trainer logged. Their folders of the training recipe's aligned tree
# ($D/celeba-chip, made here when absent), hard-linked into a tree of their own.
heldout_celeba() {
  nice -n 10 $B/align $CELEBA $D/celeba-chip --template dlib-chip --size 150 >&2
  rm -rf $D/celeba-heldout-chip
  .venv/bin/python - "$D/celeba-chip" "$D/celeba-heldout-chip" <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
def fnv(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
seeded = fnv((0).to_bytes(8, "little"))
names = sorted(n for n in os.listdir(src) if os.path.isdir(os.path.join(src, n)))
held = [n for n in names if (fnv(n.encode(), seeded) % 1000003) / 1000003.0 < 0.1]
assert len(held) == 383, f"{len(held)} held-out identities, the trainer's split has 383"
for n in held:
    os.makedirs(os.path.join(dst, n))
    for f in sorted(os.listdir(os.path.join(src, n))):
        os.link(os.path.join(src, n, f), os.path.join(dst, n, f))
PY
}

# One collection, both models, both methods: the second method reuses the first one's face pass
# (DIR/.cache), so it times clustering alone.
score() {  # NAME TREE
  for model in released dlib-resnet; do
    # The teacher records no threshold: dlib's own, 0.6 Euclidean (dnn_face_recognition_ex.cpp), is 0.36 squared.
    opt=""; [ $model = dlib-resnet ] && opt="--model dlib-resnet --threshold 0.36"
    out=$E/$1-$model
    for method in chinese-whispers agglomerative; do
      log "$1 $model $method"
      nice -n 10 $B/cluster $2 --aligned --truth folders --method $method $opt --out $out | tee $out.$method.txt
      cp $out/clusters.json $out/clusters-$method.json
    done
  done
}

# The threshold sweep: the model's verification threshold (chosen on LFW View 1's balanced
# pairs) is far too loose for clustering, where each face's 20 neighbours are mostly other people
# and one wrong edge chains two clusters. Each (set, model) re-uses the face pass cached by score()
# in DIR/.cache, so a threshold costs only the graph and the clustering (seconds).
sweep() {  # NAME TREE
  for model in released dlib-resnet; do
    opt=""; [ $model = dlib-resnet ] && opt="--model dlib-resnet"
    # The teacher's unit vectors sit in a narrow cone (the distillation recipe centres them for
    # that reason), so its useful thresholds are a fraction of the student's.
    thresholds="0.2 0.3 0.35 0.4 0.45 0.5 0.6"
    [ $model = dlib-resnet ] && thresholds="0.06 0.08 0.1 0.12 0.14 0.16 0.18"
    for method in chinese-whispers agglomerative; do
      for t in $thresholds; do
        printf '%s %s %s %s ' "$1" $model $method $t
        nice -n 10 $B/cluster $2 --aligned --truth folders --method $method $opt --threshold $t --out $E/$1-$model 2>/dev/null | grep '^scores' || echo
      done
    done
  done | tee $E/$1-sweep.txt
}

case $what in lfw|all) aligned_lfw; score lfw $D/lfw-chip; sweep lfw $D/lfw-chip ;; esac
case $what in celeba|all) heldout_celeba; score celeba-heldout $D/celeba-heldout-chip; sweep celeba-heldout $D/celeba-heldout-chip ;; esac
# The sweeps alone, over the face passes already cached by score().
case $what in sweep) sweep celeba-heldout $D/celeba-heldout-chip; sweep lfw $D/lfw-chip ;; esac

# `run.sh default`: each model at the threshold cluster picks itself (FAR 0.1 / faces, read off the
# strict thresholds its export records from `evaluate` on LFW View 1: deploy/cluster/cluster_threshold.h).
# The released model carries them (models/); the teacher is exported here with its View 1 report.
case $what in default|all)
  [ -d $D/celeba-heldout-chip ] || heldout_celeba
  $B/evaluate --pairs ../shared/data/lfw/pairsDevTest.txt --images $D/lfw-chip --model dlib-resnet \
    --out $E/teacher-view1 > $E/teacher-view1.txt
  $B/export_dlib --report $E/teacher-view1/report.json --out $D/dlib-resnet-strict.pt
  for tree in lfw-chip celeba-heldout-chip; do
    for model in models/nn4.small2-celeba-distilled.pt $D/dlib-resnet-strict.pt; do
      name=$tree-default-$(basename $model .pt)
      log "$name"
      $B/cluster $D/$tree --aligned --truth folders --method chinese-whispers --model $model --precision auto \
        --out $E/$name --overwrite 2>&1 | tee $E/$name.txt
    done
  done
  ;;
esac

# End to end from the raw photos: every face detected and aligned by the tool itself.
case $what in raw|all)
  rm -rf $E/lfw-raw
  log "lfw raw, released model, alignment included"
  nice -n 10 /usr/bin/time -v $B/cluster $LFW --truth folders --out $E/lfw-raw 2>&1 | tee $E/lfw-raw.txt
  rm -rf $E/lfw-aligned-fresh
  log "lfw aligned tree, released model, alignment excluded (no cache)"
  nice -n 10 /usr/bin/time -v $B/cluster $D/lfw-chip --aligned --truth folders --out $E/lfw-aligned-fresh 2>&1 | tee $E/lfw-aligned-fresh.txt
  ;;
esac

# 100,000 synthetic embeddings with identity structure: 128-d unit vectors, identities of 1 to 19
# faces (uniform) scattered around a random centre; time and peak memory of the graph and both
# methods.
case $what in scale|all)
  .venv/bin/python - $E/synthetic-100k <<'PY'
import sys, numpy as np
stem = sys.argv[1]
rng = np.random.default_rng(0)
sizes = []
while sum(sizes) < 100000:
    sizes.append(int(rng.integers(1, 20)))
sizes[-1] -= sum(sizes) - 100000
labels = np.repeat(np.arange(len(sizes)), sizes)
centres = rng.normal(size=(len(sizes), 128))
centres /= np.linalg.norm(centres, axis=1, keepdims=True)
x = centres[labels] + rng.normal(scale=0.45 / np.sqrt(128), size=(len(labels), 128))
x /= np.linalg.norm(x, axis=1, keepdims=True)
np.save(stem + ".npy", x.astype(np.float32))
with open(stem + ".labels.txt", "w") as f:
    f.write("\n".join(map(str, labels)) + "\n")
print(f"{len(labels)} embeddings of {len(sizes)} identities", file=sys.stderr)
PY
  for method in chinese-whispers agglomerative; do
    for index in ivf flat; do
      log "scale $method $index"
      rm -rf $E/scale-$method-$index
      nice -n 10 /usr/bin/time -v $B/cluster --embeddings $E/synthetic-100k.npy --truth $E/synthetic-100k.labels.txt \
        --threshold 0.834 --method $method --index $index --out $E/scale-$method-$index 2>&1 | tee $E/scale-$method-$index.txt
    done
  done
  ;;
esac
