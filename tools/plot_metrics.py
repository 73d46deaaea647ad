#!/usr/bin/env python3
"""metrics.jsonl -> a PNG of the training curves (matplotlib).

    .venv/bin/python tools/plot_metrics.py RUN_DIR/metrics.jsonl --out RUN_DIR/curves.png

Panels: the loss and each of its terms (triplet, distillation direct and relational), the
fraction of active triplets, validation / LFW View 1 accuracy, and the training throughput
(images/s of each logging window, with the first tenth's and the last tenth's medians: issue
#24's "no fall" check), all against the step. A
resumed run's rows past its checkpoint are logged again; the last row of each step wins.
"""
import argparse
import json
import math
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_rows(path):
    train, evals = {}, {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"plot_metrics: {path} line {number}: not JSON: {e}")
            kind = row.get("kind")
            if kind == "train":
                train[row["step"]] = row
            elif kind == "eval":
                evals[row["step"]] = row
    return [train[s] for s in sorted(train)], [evals[s] for s in sorted(evals)]


def series(rows, key):
    xs, ys = [], []
    for r in rows:
        v = r.get(key)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            xs.append(r["step"])
            ys.append(v)
    return xs, ys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", help="metrics.jsonl of a run")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="", help="figure title (default: the file's folder)")
    args = parser.parse_args()
    train, evals = read_rows(args.metrics)
    if not train:
        sys.exit(f"plot_metrics: {args.metrics} has no training rows")

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    ax = axes[0]
    for key, label in [("loss", "total loss"), ("triplet_loss", "triplet"), ("distill_direct", "distill: 1 - cos"),
                       ("distill_relational", "distill: relational")]:
        xs, ys = series(train, key)
        if xs:
            ax.plot(xs, ys, label=label, linewidth=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("loss terms")

    ax = axes[1]
    xs, ys = series(train, "active_fraction")
    ax.plot(xs, ys, color="tab:purple", linewidth=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("active fraction of mined triplets")
    ax.set_ylim(0, 1.05)
    ax.set_title("active triplets")

    ax = axes[2]
    for key, label in [("validation_accuracy", "CelebA held-out identities"), ("lfw_view1_accuracy", "LFW View 1")]:
        xs, ys = series(evals, key)
        if xs:
            ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("10-fold verification accuracy")
    ax.legend()
    ax.set_title("validation")

    ax = axes[3]
    xs, ys = series(train, "images_per_s")
    ax.plot(xs, ys, color="tab:green", linewidth=0.8)
    tenth = max(1, len(ys) // 10)
    first, last = statistics.median(ys[:tenth]), statistics.median(ys[-tenth:])
    ax.axhline(first, color="gray", linestyle="--", linewidth=0.8, label=f"first tenth median {first:.0f}")
    ax.axhline(last, color="black", linestyle=":", linewidth=0.8, label=f"last tenth median {last:.0f}")
    ax.set_xlabel("step")
    ax.set_ylabel("images/s (logging window)")
    ax.set_ylim(0, max(ys) * 1.1)
    ax.legend()
    ax.set_title(f"throughput: last / first tenth {last / first:.2f}")
    fig.suptitle(args.title or args.metrics)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot_metrics: {len(train)} training rows, {len(evals)} evaluations -> {args.out}")


if __name__ == "__main__":
    main()
