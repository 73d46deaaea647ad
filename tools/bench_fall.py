#!/usr/bin/env python3
"""bench_fall.py: the training-throughput fall (issue #24), as a controlled benchmark.

    tools/bench_fall.py --config configs/nn4-cpu.yaml CKPT [CKPT ...] [--init MODEL ...]
                        [--steps 60] [--repeats 2]

Runs the real trainer step of the recipe (its pack, batch, seed and augmentation) for --steps
steps from a fresh start (step 0), from each checkpoint CKPT (resumed: its step, weights and
optimiser state) and from each --init MODEL (step 0 with that model's weights, model.init: a
released model or an export, which carries no optimiser state), each with and without
runtime.flush_denormals (flush-to-zero and denormals-are-zero in every intra-op thread,
src/util/denormals.h). The runs alternate, so every variant sees the same machine load; each
writes into a scratch run directory (nothing of the real run is touched). Reports the median
images/s of the logging windows after the first (the first holds start-up), per variant, and
the ratio of each to the fresh start without flushing. Writes experiments/bench/fall.json."""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(a, start, flush, work):
    """start: None (fresh), ("resume", checkpoint) or ("init", model file)."""
    name = f"fall-{int(time.time() * 1e6)}"
    cmd = [str(Path(a.build) / "trainer"), "--config", a.config, "--stop-after", str(a.steps),
           "--set", f"run.dir={work}", "--set", f"run.name={name}", "--set", "evaluation.every_steps=0",
           "--set", "checkpoint.every_steps=0", "--set", "checkpoint.every_minutes=0",
           "--set", f"logging.every_steps={a.window}", "--set", "logging.progress=false",
           "--set", f"runtime.flush_denormals={'true' if flush else 'false'}"]
    if start and start[0] == "resume":
        cmd += ["--resume", str(start[1])]
    if start and start[0] == "init":
        cmd += ["--set", f"model.init={start[1]}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench_fall: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    metrics = Path(work) / name / "metrics.jsonl"
    rates = [json.loads(l)["images_per_s"] for l in metrics.read_text().splitlines()
             if l.startswith("{") and json.loads(l).get("kind") == "train"]
    shutil.rmtree(Path(work) / name, ignore_errors=True)
    return rates[1:] if len(rates) > 1 else rates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="*", help="checkpoints of a run of the same recipe")
    ap.add_argument("--init", nargs="+", default=[], metavar="MODEL",
                    help="also start at step 0 from these models' weights (model.init)")
    ap.add_argument("--config", default=str(ROOT / "configs/nn4-cpu.yaml"))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--window", type=int, default=10, help="steps per logging window")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--build", default=os.environ.get("BUILD_DIR", str(ROOT / "build")))
    ap.add_argument("--out", default=str(ROOT / "experiments/bench/fall.json"))
    a = ap.parse_args()
    if a.steps < 2 * a.window:
        sys.exit("bench_fall: --steps must hold at least two logging windows")
    for c in a.checkpoints + a.init:
        if not Path(c).is_file():
            sys.exit(f"bench_fall: '{c}' does not exist")
    starts = [None] + [("resume", Path(c)) for c in a.checkpoints] + [("init", Path(m)) for m in a.init]

    def label(s):
        return "step 0" if s is None else str(s[1]) if s[0] == "resume" else f"step 0, init {s[1]}"
    rates = {(label(s), f): [] for s in starts for f in (False, True)}
    with tempfile.TemporaryDirectory(prefix="bench-fall-") as work:
        for _ in range(a.repeats):
            for s in starts:
                for f in (False, True):
                    rates[(label(s), f)] += one_run(a, s, f, work)
    base = statistics.median(rates[("step 0", False)])
    load = os.getloadavg()
    rows = []
    for (start, flush), r in rates.items():
        m = statistics.median(r)
        rows.append({"start": start, "flush_denormals": flush, "images_per_s_median": round(m, 1),
                     "windows": len(r), "ratio_to_fresh": round(m / base, 3)})
        print(f"{start:60s} flush_denormals={str(flush):5s} {m:7.1f} img/s ({len(r)} windows) "
              f"{m / base:.2f}x of a fresh start")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"config": a.config, "steps": a.steps, "repeats": a.repeats, "load_after": load,
                               "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": rows}, indent=1))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
