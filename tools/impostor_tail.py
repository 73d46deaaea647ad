#!/usr/bin/env python3
"""What sets a model's strict-threshold (low-FAR) behaviour: the closest pairs of different people.

Issue #25, item 1 (what limits the student). At FAR 1e-3 the threshold is set by the few closest
impostor pairs, so VAL@FAR=1e-3 depends on what those pairs are. Given embeddings of the same
images by a student and a teacher (`embed ... --out X.npy --names X.txt`, rows in the same order)
and the align manifest of the tree they came from, this prints:
  - the distance at FAR 1e-3 / 1e-4 over every pair of different people, and the share of the
    list's genuine pairs accepted there (VAL), for each model;
  - the K closest impostor pairs under the student, with the teacher's distance for the same pair
    and each image's alignment status (aligned or centre-crop fallback);
  - how many of the closest impostors involve a fallback image, against fallbacks' share of images.

    impostor_tail.py --student S.npy --student-names S.txt --teacher T.npy --teacher-names T.txt \
        --manifest TREE/align_manifest.jsonl --pairs pairsDevTest.txt [--top 25] [--json OUT]

Distances are squared L2 between unit rows, in [0, 4], as everywhere in the project.
"""
import argparse
import json
import sys

import numpy as np


def load(npy, names_file):
    x = np.load(npy).astype(np.float64)
    names = [line.rstrip("\n") for line in open(names_file, encoding="utf-8")]
    if len(names) != x.shape[0]:
        sys.exit(f"impostor_tail: {names_file} has {len(names)} names, {npy} has {x.shape[0]} rows")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, names


def person_of(name):
    # LFW trees: PERSON/PERSON_0001.ext
    return name.split("/")[0]


def genuine_pairs(pairs_file, index):
    """(i, j) rows of the list's matched pairs whose images are both embedded."""
    out = []
    with open(pairs_file, encoding="utf-8") as f:
        next(f)
        for line in f:
            p = line.split()
            if len(p) != 3:
                continue
            a = f"{p[0]}/{p[0]}_{int(p[1]):04d}"
            b = f"{p[0]}/{p[0]}_{int(p[2]):04d}"
            if a in index and b in index:
                out.append((index[a], index[b]))
    return np.array(out, dtype=np.int64)


def impostor_distances(x, people):
    """Squared L2 of every pair of rows of different people (i < j), with the pairs."""
    d = np.clip(2.0 - 2.0 * (x @ x.T), 0.0, 4.0)
    iu = np.triu_indices(len(x), k=1)
    keep = people[iu[0]] != people[iu[1]]
    return d[iu][keep], iu[0][keep], iu[1][keep]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", required=True)
    ap.add_argument("--student-names", required=True)
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--teacher-names", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if a.top < 1:
        sys.exit("impostor_tail: --top must be >= 1")

    s, s_names = load(a.student, a.student_names)
    t, t_names = load(a.teacher, a.teacher_names)
    if s_names != t_names:
        sys.exit("impostor_tail: the two names files list different images (embed both from one list)")
    keys = [n.rsplit(".", 1)[0] for n in s_names]
    index = {k: i for i, k in enumerate(keys)}
    people = np.array([person_of(k) for k in keys])

    status = {}
    with open(a.manifest, encoding="utf-8") as f:
        next(f)
        for line in f:
            row = json.loads(line)
            status[row["output"].rsplit(".", 1)[0]] = row["status"]
    fallback = np.array([status.get(k, "?") == "fallback" for k in keys])

    gen = genuine_pairs(a.pairs, index)
    result = {"images": len(keys), "fallback_images": int(fallback.sum()), "genuine_pairs": len(gen), "models": {}}
    print(f"{len(keys)} images ({int(fallback.sum())} centre-crop fallbacks), {len(gen)} genuine pairs of the list")

    s_imp, ii, jj = impostor_distances(s, people)
    t_imp = np.clip(2.0 - 2.0 * np.einsum("ij,ij->i", t[ii], t[jj]), 0.0, 4.0)
    print(f"{len(s_imp)} impostor pairs (every pair of different people)")
    for label, x, imp in (("student", s, s_imp), ("teacher", t, t_imp)):
        g = np.clip(2.0 - 2.0 * np.einsum("ij,ij->i", x[gen[:, 0]], x[gen[:, 1]]), 0.0, 4.0)
        rows = {}
        for far in (1e-2, 1e-3, 1e-4):
            thr = float(np.quantile(imp, far))
            rows[str(far)] = {"threshold": thr, "val": float((g < thr).mean())}
            print(f"  {label}: FAR {far:g}: distance {thr:.3f}, VAL {rows[str(far)]['val']:.3f}")
        result["models"][label] = rows

    order = np.argsort(s_imp)
    top = order[: a.top]
    print(f"\nthe {a.top} closest impostor pairs under the student:")
    print(f"{'student':>8} {'teacher':>8}  {'fallbacks':>9}  pair")
    listed = []
    for o in top:
        i, j = int(ii[o]), int(jj[o])
        nf = int(fallback[i]) + int(fallback[j])
        print(f"{s_imp[o]:8.3f} {t_imp[o]:8.3f}  {nf:9d}  {keys[i]}  {keys[j]}")
        listed.append({"a": keys[i], "b": keys[j], "student": float(s_imp[o]), "teacher": float(t_imp[o]),
                       "fallbacks": nf})
    result["closest"] = listed

    # Which images recur among the closest impostors, and how many of them are fallbacks.
    for k in (100, 1000):
        sel = order[:k]
        involved = np.concatenate([ii[sel], jj[sel]])
        with_fb = int((fallback[ii[sel]] | fallback[jj[sel]]).sum())
        uniq, counts = np.unique(involved, return_counts=True)
        share = fallback.mean()
        expect = 1 - (1 - share) ** 2
        print(f"\nclosest {k}: {with_fb} involve a fallback image (chance: {expect * k:.1f});"
              f" {len(uniq)} distinct images; most frequent:")
        for u, c in sorted(zip(uniq, counts), key=lambda p: -p[1])[:8]:
            print(f"  {c:4d}  {keys[u]}{'  (fallback)' if fallback[u] else ''}")
        result[f"closest_{k}"] = {"with_fallback": with_fb, "distinct_images": int(len(uniq)),
                                  "frequent": [[keys[u], int(c)] for u, c in
                                               sorted(zip(uniq, counts), key=lambda p: -p[1])[:8]]}
    # The teacher's view of the student's closest impostors: are they hard for the teacher too?
    sel = order[: 100]
    print(f"\nteacher distance of the student's 100 closest impostors: median {np.median(t_imp[sel]):.3f}"
          f" (the teacher's own FAR 1e-3 distance: {result['models']['teacher']['0.001']['threshold']:.3f})")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
