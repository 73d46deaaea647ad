#!/usr/bin/env python3
"""Draw weights for unlabelled faces (`data.unlabelled_weights`), balanced over UTKFace's groups.

Issue #25, item 1: the released student's strict-threshold failures are a few dozen faces of an
under-represented group (experiments/nn4-strict: the closest impostor pairs on LFW are Black
faces), and its training faces are mostly white (CelebA; UTKFace's crop_part1 holds 405 Black
faces among 9,780). UTKFace's file names carry a coarse group, `<age>_<gender>_<race>_<date>`
(race 0-4: White, Black, Asian, Indian, Other), so the trainer can draw each group as often as
the others without identity labels. A face of a group of n faces gets weight n^-power:
power 1 draws every group equally, 0 uniformly (today's draw), between them a compromise.

    unlabelled_weights.py TREE --out WEIGHTS [--power 1] [--min-age 0]

TREE is the aligned folder the unlabelled pack was made from (e.g. experiments/data/utkface-chip);
paths are written relative to it, as `pack` records them. Faces whose names carry no group are
drawn as often as a face of the largest group. `--min-age A` gives weight 0 to faces younger than A.
"""
import argparse
import collections
import os
import sys

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
GROUPS = {"0": "White", "1": "Black", "2": "Asian", "3": "Indian", "4": "Other"}


def parse(name):
    """(group, age) from a UTKFace file name; group 'unknown' and age None when it does not parse."""
    fields = os.path.splitext(os.path.basename(name))[0].split("_")
    age = int(fields[0]) if fields and fields[0].isdigit() else None
    group = GROUPS.get(fields[2], "unknown") if len(fields) >= 4 else "unknown"
    return group, age


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tree")
    ap.add_argument("--out", required=True)
    ap.add_argument("--power", type=float, default=1.0)
    ap.add_argument("--min-age", type=int, default=0)
    a = ap.parse_args()
    if not 0 <= a.power <= 4:
        sys.exit(f"unlabelled_weights: --power {a.power} is outside [0, 4]")
    if not os.path.isdir(a.tree):
        sys.exit(f"unlabelled_weights: '{a.tree}' is not a folder")
    if os.path.exists(a.out):
        sys.exit(f"unlabelled_weights: '{a.out}' exists; it is not overwritten (remove it first)")
    faces = []
    for root, _, files in os.walk(a.tree):
        for f in files:
            if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS:
                faces.append(os.path.relpath(os.path.join(root, f), a.tree))
    if not faces:
        sys.exit(f"unlabelled_weights: no images under '{a.tree}'")
    faces.sort()
    spaced = [f for f in faces if any(c.isspace() for c in f)]
    if spaced:
        sys.exit(f"unlabelled_weights: '{spaced[0]}' holds white space, which the weights format cannot carry")
    info = {f: parse(f) for f in faces}
    kept = [f for f in faces if a.min_age == 0 or (info[f][1] is not None and info[f][1] >= a.min_age)]
    counts = collections.Counter(info[f][0] for f in kept)
    weight = {f: 0.0 for f in faces}
    # A face whose name carries no group is drawn as often as one of the largest group: balancing
    # must not turn a handful of unparsed names into a group of their own.
    largest = max((n for g, n in counts.items() if g != "unknown"), default=1)
    for f in kept:
        group = info[f][0]
        weight[f] = (largest if group == "unknown" else counts[group]) ** -a.power
    total = sum(weight.values())
    if total == 0:
        sys.exit("unlabelled_weights: every face has weight 0 (check --min-age)")
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(f"# unlabelled_weights.py {a.tree} --power {a.power} --min-age {a.min_age}\n")
        for f in faces:
            out.write(f"{f} {weight[f] / total * len(faces):.6g}\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, a.out)
    share = collections.defaultdict(float)
    for f in faces:
        share[info[f][0]] += weight[f] / total
    found = collections.Counter(info[f][0] for f in faces)
    for g in sorted(share, key=lambda g: -share[g]):
        n = found[g]
        print(f"{g:8s} {n:6d} faces, {counts.get(g, 0):6d} kept, share of draws {share[g]:.3f}")


if __name__ == "__main__":
    main()
