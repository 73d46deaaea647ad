#!/usr/bin/env python3
"""Writes tests/fixtures/metrics_fixture.txt: reference values for the LFW verification metrics,
computed independently of the C++ code (src/eval/verification_metrics.cpp), which
tests/core/metrics_fixture_test.cpp compares against.

The reference follows the semantics documented in verification_metrics.h, by brute force:
  - predict "same" when distance < threshold; candidate thresholds are the midpoints between
    consecutive distinct distances of the pairs considered, plus min - 1 and max + 1;
  - best threshold: the smallest candidate with the highest accuracy;
  - k-fold: scikit-learn's KFold(k, shuffle=False) (contiguous blocks, the first n % k folds one
    pair larger, as davidsandberg/facenet splits LFW), threshold chosen on the other folds;
    mean and population standard deviation (numpy's std, as facenet) over folds;
  - VAL@FAR: per fold, the largest candidate threshold whose FAR on the other folds is <= target,
    then VAL and FAR measured on the fold;
  - AUC: Mann-Whitney over all (same, different) pairs, ties counted one half; cross-checked with
    scikit-learn's roc_auc_score;
  - ROC: scikit-learn's roc_curve on the negated distance (every distinct distance a point);
  - EER: as facenet computes it, brentq on 1 - x - interp1d(fpr, tpr)(x).

Run once (needs numpy, scikit-learn and scipy; e.g. pip install --target /tmp/skl scikit-learn
scipy joblib threadpoolctl, then PYTHONPATH=/tmp/skl):
    python3 tools/make_metrics_fixture.py [tests/fixtures/metrics_fixture.txt]
The data is generated from fixed seeds; distances are quantised so that ties are common, also
between same and different pairs, and written as short decimals that C++ parses to the same doubles.
"""
import sys

import numpy as np
from scipy import interpolate
from scipy.optimize import brentq
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import KFold


def candidates(d):
    u = np.unique(d)
    return np.concatenate([[u[0] - 1.0], (u[:-1] + u[1:]) / 2.0, [u[-1] + 1.0]])


def correct_count(d, same, t):
    return int(np.sum((d < t) == same))


def best_threshold(d, same):
    cands = candidates(d)
    counts = np.array([correct_count(d, same, t) for t in cands])
    i = int(np.argmax(counts))  # first maximum = smallest threshold
    return cands[i], counts[i] / len(d)


def threshold_at_far(d, same, target):
    n_diff = np.sum(~same)
    ok = [t for t in candidates(d) if (np.sum((d < t) & ~same) / n_diff if n_diff else 0.0) <= target]
    return max(ok)


def reference(d, same, k, targets):
    out = {}
    fold_thr, fold_acc, fold_n = [], [], []
    vals = {t: [] for t in targets}
    fars = {t: [] for t in targets}
    for train, test in KFold(n_splits=k, shuffle=False).split(d):
        thr, _ = best_threshold(d[train], same[train])
        fold_thr.append(thr)
        fold_acc.append(correct_count(d[test], same[test], thr) / len(test))
        fold_n.append(len(test))
        for target in targets:
            t = threshold_at_far(d[train], same[train], target)
            accept = d[test] < t
            s = same[test]
            vals[target].append(np.sum(accept & s) / max(np.sum(s), 1))
            fars[target].append(np.sum(accept & ~s) / max(np.sum(~s), 1))
    out["fold_pairs"] = fold_n
    out["fold_threshold"] = fold_thr
    out["fold_accuracy"] = fold_acc
    out["accuracy_mean"] = [np.mean(fold_acc)]
    out["accuracy_std"] = [np.std(fold_acc)]
    out["val_mean"] = [np.mean(vals[t]) for t in targets]
    out["val_std"] = [np.std(vals[t]) for t in targets]
    out["far_mean"] = [np.mean(fars[t]) for t in targets]

    ds, dd = d[same], d[~same]
    wins = (ds[:, None] < dd[None, :]).sum() + 0.5 * (ds[:, None] == dd[None, :]).sum()
    auc = wins / (len(ds) * len(dd))
    assert abs(auc - roc_auc_score(same, -d)) < 1e-12, (auc, roc_auc_score(same, -d))
    out["auc"] = [auc]

    fpr, tpr, _ = roc_curve(same, -d, drop_intermediate=False)
    out["roc_far"] = list(fpr)
    out["roc_tar"] = list(tpr)
    out["eer"] = [brentq(lambda x: 1.0 - x - interpolate.interp1d(fpr, tpr)(x), 0.0, 1.0, xtol=1e-14)]

    thr, acc = best_threshold(d, same)
    out["best_threshold"] = [thr]
    out["best_accuracy"] = [acc]
    return out


def quantised(values, step, decimals):
    # Decimal strings first, parsed back: Python and C++ then hold identical doubles.
    text = [f"{np.clip(np.round(v / step) * step, 0.0, 4.0):.{decimals}f}" for v in values]
    return text, np.array([float(s) for s in text])


def make_cases():
    cases = []
    # LFW-like: 10 folds of 20 same then 20 different pairs, squared-L2-like range, many ties.
    rng = np.random.default_rng(20261128)
    labels, raw = [], []
    for _ in range(10):
        labels += [True] * 20 + [False] * 20
        raw += list(rng.normal(0.9, 0.35, 20)) + list(rng.normal(1.5, 0.35, 20))
    cases.append(("lfw_like", 10, raw, labels, 0.05, 2))
    # Uneven: 53 pairs, random labels, 5 folds of unequal size, coarse ties.
    rng = np.random.default_rng(7)
    labels = list(rng.random(53) < 0.5)
    raw = [rng.normal(1.0 if s else 1.4, 0.4) for s in labels]
    cases.append(("uneven", 5, raw, labels, 0.25, 2))
    # Two distance values only: every threshold decision is a tie decision.
    labels = [True, False, True, True, False, False, True, False, False, True, False, True]
    raw = [0.5, 0.5, 1.0, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0, 0.5]
    cases.append(("two_values", 3, raw, labels, 0.5, 1))
    return cases


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/metrics_fixture.txt"
    targets = [1e-3, 1e-2, 0.1]
    lines = ["# Reference LFW verification metrics from tools/make_metrics_fixture.py (numpy "
             f"{np.__version__}, scikit-learn KFold/roc_auc_score/roc_curve, scipy brentq). Do not edit.",
             "# case NAME FOLDS; then 'key values...' lines; 'end' closes a case."]
    for name, k, raw, labels, step, decimals in make_cases():
        text, d = quantised(raw, step, decimals)
        same = np.array(labels, dtype=bool)
        ref = reference(d, same, k, targets)
        lines.append(f"case {name} {k}")
        lines.append("far_targets " + " ".join(repr(t) for t in targets))
        lines.append("distances " + " ".join(text))
        lines.append("same " + " ".join("1" if s else "0" for s in same))
        for key, values in ref.items():
            lines.append(key + " " + " ".join(repr(float(v)) for v in values))
        lines.append("end")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
