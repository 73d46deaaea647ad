#!/usr/bin/env python3
"""bench.py: every stage's throughput beside the Python reference, in one command (issue #7).

    tools/bench.sh [--device cpu|cuda] [--repeats 3] [--stages train,infer,pipeline,align,evaluate]

Runs, on this machine and in this one command:
  train     the trainer step (build/bench_train: sampling, augmentation, forward, mining, loss,
            backward, update) beside ../shared/bench/ref_nn4.py's training step, same model, batch
            and threads; on CPU in the default layout and channels-last, on CUDA fp32 and
            bf16 + channels-last (and the reference's torch.compile mode);
  infer     large-batch throughput and batch-1 latency (build/bench_infer) beside the reference;
  peers     the same nn4.small2 exported to ONNX (build/export --onnx) in onnxruntime and OpenVINO
            (tools/peer_runtimes.py, in the venv), at fp32 and at each runtime's default precision,
            beside ours at fp32 and, where the CPU computes bf16 natively, at bf16: like for like
            and against each peer's best;
  pipeline  pack load, PxK sampling, gather and augmentation (build/bench_pack), if a pack exists;
  align     build/align on the first N LFW images;
  evaluate  LFW View 2 wall time of build/evaluate on the aligned LFW tree (untrained network:
            the time does not depend on the weights).
On a CPU with native bf16 (avx512_bf16 / amx_bf16) training and inference also run the
reference's bf16 autocast mode beside ours at --precision bf16.
Each measurement is repeated (reference and ours alternate, so both see the same machine load).
Both sides report the same statistic per run: images of the timed steps / their total time.
The table gives the best and the median run, the ratio of medians, and each process's peak resident
memory (from wait4). Writes experiments/bench/<host>-<device>.json and .md and prints the table.
Python is only the driver here: every figure of ours comes from the C++ programs."""
import argparse, json, os, platform, shlex, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd):
    """Runs cmd; returns (stdout, seconds, peak resident MB of that process, from wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0); err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"bench: {shlex.join(map(str, cmd))} failed ({proc.returncode}):\n{err.read()[-2000:]}")
        return out.read(), seconds, usage.ru_maxrss / 1024.0


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def summary(values):
    return {"best": max(values), "median": statistics.median(values), "runs": values}


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    load = os.getloadavg()
    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "load_before": [round(x, 2) for x in load],
            "commit": subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                     capture_output=True, text=True).stdout.strip(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def cpu_native_bf16(a):
    """Whether this CPU computes bf16 natively, as ATen's capability report (the venv's torch) says."""
    out = subprocess.run([a.python, "-c", "import torch; c = torch._C._cpu._get_cpu_capability(); "
                          "print(int(bool(c.get('avx512_bf16') or c.get('amx_bf16'))))"],
                         capture_output=True, text=True)
    return out.stdout.strip() == "1"


def cpu_flags():
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    return [f for f in flags if f.startswith(("avx", "amx"))]


def bench_train_and_infer(a, build, rows, results):
    threads = a.threads or os.cpu_count()
    common = ["--batch", str(a.batch), "--steps", str(a.steps), "--warm", str(a.warm)]
    if a.device == "cpu":
        pairs = [("eager", ["--nchw"]), ("cl", ["--channels-last"])]
        if a.native_bf16:
            pairs.append(("cl_bf16", ["--channels-last", "--precision", "bf16"]))
    else:
        pairs = [("eager", ["--nchw"]), ("cl_bf16", ["--channels-last", "--bf16"])]
        if a.compile:
            pairs.append(("compile_cl_bf16", ["--channels-last", "--bf16"]))
    for mode, flags in pairs:
        ref_train, ref_infer, ours_train, ref_mem, ours_mem, ours_dev = [], [], [], [], [], []
        for _ in range(a.repeats):
            out, _, mem = run([a.python, a.ref, "--device", a.device, "--threads", str(threads), "--modes", mode]
                              + common)
            r = json_lines(out)[-1]
            ref_train.append(r["train_img_s"]); ref_infer.append(r["infer_img_s"]); ref_mem.append(mem)
            out, _, mem = run([build / "bench_train", "--device", a.device, "--threads", str(threads)] + common + flags)
            o = json_lines(out)[-1]
            # total images / total time of the timed steps, the reference's statistic
            ours_train.append(o["train_img_s"]); ours_mem.append(mem); ours_dev.append(o["device_memory_mb"])
        key = f"train_{a.device}_{mode}"
        results[key] = {"reference": summary(ref_train), "ours": summary(ours_train), "ours_flags": flags,
                        "reference_peak_mb": max(ref_mem), "ours_peak_mb": max(ours_mem),
                        "ours_device_memory_mb": max(ours_dev), "reference_infer": summary(ref_infer)}
        ratio = statistics.median(ours_train) / statistics.median(ref_train)
        rows.append([f"training step, batch {a.batch}, {a.device} (ref mode `{mode}`; ours `{' '.join(flags)}`)",
                     f"{max(ours_train):.1f} / {statistics.median(ours_train):.1f} img/s",
                     f"{max(ref_train):.1f} / {statistics.median(ref_train):.1f} img/s", f"{ratio:.2f}x",
                     f"{max(ours_mem):.0f} MB" + (f", GPU {max(ours_dev):.0f} MB" if a.device == "cuda" else ""),
                     f"{max(ref_mem):.0f} MB"])
        if "infer" not in a.stages:
            continue
        ours_infer, ours_lat, ours_imem = [], [], []
        for _ in range(a.repeats):
            out, _, mem = run([build / "bench_infer", "--json", "--device", a.device, "--threads", str(threads),
                               "--batch", str(a.batch), "--graph", a.graph]
                              + flags)
            o = json_lines(out)[-1]
            ours_infer.append(o["infer_img_s"]); ours_lat.append(o["batch1_ms_median"]); ours_imem.append(mem)
        results[f"infer_{a.device}_{mode}"] = {"ours": summary(ours_infer), "ours_batch1_ms": summary(ours_lat),
                                               "reference": summary(ref_infer), "ours_peak_mb": max(ours_imem)}
        ratio = statistics.median(ours_infer) / statistics.median(ref_infer)
        rows.append([f"inference, batch {a.batch}, {a.device} ({mode}, ours `--graph {a.graph}`); batch-1 latency median {statistics.median(ours_lat):.1f} ms",
                     f"{max(ours_infer):.1f} / {statistics.median(ours_infer):.1f} img/s",
                     f"{max(ref_infer):.1f} / {statistics.median(ref_infer):.1f} img/s", f"{ratio:.2f}x",
                     f"{max(ours_imem):.0f} MB", "(same process as training)"])


def best_of(results, prefix, key="ours"):
    """(mode, median) of the best median among results[prefix*][key]."""
    found = [(k[len(prefix):], r[key]["median"]) for k, r in results.items() if k.startswith(prefix) and key in r]
    return max(found, key=lambda m: m[1]) if found else (None, 0.0)


def summarise_best(a, rows, results):
    """Ours in its best mode against the reference in its best mode (the issue's goal statistic)."""
    for stage in ("train", "infer"):
        ours_mode, ours = best_of(results, f"{stage}_{a.device}_")
        ref_mode, ref = best_of(results, f"{stage}_{a.device}_", "reference")
        if ours and ref:
            results[f"{stage}_best"] = {"ours_mode": ours_mode, "ours_median": ours, "reference_mode": ref_mode,
                                        "reference_median": ref, "ratio": ours / ref}
            rows.append([f"{stage}: ours best (`{ours_mode}`) against the reference's best (`{ref_mode}`)",
                         f"{ours:.1f} img/s", f"{ref:.1f} img/s", f"{ours / ref:.2f}x", "-", "-"])


def bench_peers(a, build, rows, results):
    """Our inference beside onnxruntime and OpenVINO on the same network, same statistic."""
    if a.device != "cpu":
        return
    threads = a.threads or os.cpu_count()
    common = ["--batch", str(a.batch), "--steps", str(a.steps), "--warm", str(a.warm), "--threads", str(threads)]
    with tempfile.TemporaryDirectory() as work:
        model, onnx = Path(work) / "m.pt", Path(work) / "m.onnx"
        run([build / "export", "--untrained", "nn4.small2", "--out", model, "--threshold", "1", "--onnx", onnx])
        peer = [a.python, ROOT / "tools/peer_runtimes.py", onnx] + common
        sides = {"ours fp32": [build / "bench_infer", "--json", "--graph", "folded", "--precision", "fp32"] + common}
        if a.native_bf16:
            sides["ours bf16"] = [build / "bench_infer", "--json", "--graph", "folded", "--precision", "bf16"] + common
        sides.update({"onnxruntime fp32": peer + ["--runtime", "onnxruntime"],
                      "openvino fp32": peer + ["--runtime", "openvino", "--precision", "fp32"],
                      "openvino default": peer + ["--runtime", "openvino"]})
        got = {name: {"img_s": [], "batch1_ms": [], "batch1_fastest_ms": [], "peak_mb": [], "precision": None}
               for name in sides}
        for _ in range(a.repeats):  # the sides alternate, so all see the same load
            for name, cmd in sides.items():
                out, _, mem = run(cmd)
                o = json_lines(out)[-1]
                got[name]["img_s"].append(o["infer_img_s"])
                got[name]["batch1_ms"].append(o["batch1_ms_median"])
                got[name]["batch1_fastest_ms"].append(o["batch1_ms_min"])
                got[name]["peak_mb"].append(mem)
                got[name]["precision"] = o.get("precision")
    # Latency: the median of each run's median call (smaller is better, so no "best" of it), and
    # the fastest call of all runs, which a noisy shared machine disturbs least.
    results["peers"] = {name: {"img_s": summary(g["img_s"]), "batch1_ms_median_runs": g["batch1_ms"],
                               "batch1_ms_fastest": min(g["batch1_fastest_ms"]),
                               "peak_mb": max(g["peak_mb"]), "precision": g["precision"]} for name, g in got.items()}
    med = {name: statistics.median(g["img_s"]) for name, g in got.items()}
    lat = {name: statistics.median(g["batch1_ms"]) for name, g in got.items()}
    fastest = {name: min(g["batch1_fastest_ms"]) for name, g in got.items()}
    for name, g in got.items():
        rows.append([f"inference, batch {a.batch}: {name} (ran in {g['precision']}); batch-1 latency median "
                     f"{lat[name]:.2f} ms, fastest {fastest[name]:.2f} ms",
                     f"{max(g['img_s']):.1f} / {med[name]:.1f} img/s", "-",
                     f"{med[name] / med['ours fp32']:.2f}x of ours fp32", f"{max(g['peak_mb']):.0f} MB", "-"])
    ours_best = max((n for n in med if n.startswith("ours")), key=med.get)
    peers = [n for n in med if not n.startswith("ours")]
    peer_best = max(peers, key=med.get)
    fastest_latency = min(peers, key=lat.get)
    # Latency is compared at each side's quickest precision, which need not be its fastest at batch 96.
    ours_quickest = min((n for n in med if n.startswith("ours")), key=lat.get)
    results["peers"]["best"] = {"ours": ours_best, "peer": peer_best, "ratio": med[ours_best] / med[peer_best],
                                "fp32_ratio": med["ours fp32"] / max(med["onnxruntime fp32"], med["openvino fp32"]),
                                "batch1_ours": ours_quickest,
                                "batch1_ms_ours": lat[ours_quickest], "batch1_ms_best_peer": lat[fastest_latency],
                                "batch1_best_peer": fastest_latency, "batch1_fastest_ms_ours": fastest[ours_quickest],
                                "batch1_fastest_ms_best_peer": fastest[fastest_latency],
                                "batch1_ms_onnxruntime": lat["onnxruntime fp32"]}
    rows.append([f"inference like for like: ours fp32 against the best peer at fp32", f"{med['ours fp32']:.1f} img/s",
                 f"{max(med['onnxruntime fp32'], med['openvino fp32']):.1f} img/s",
                 f"{results['peers']['best']['fp32_ratio']:.2f}x", "-", "-"])
    rows.append([f"inference, best against best: ours `{ours_best}` against `{peer_best}`", f"{med[ours_best]:.1f} img/s",
                 f"{med[peer_best]:.1f} img/s", f"{med[ours_best] / med[peer_best]:.2f}x", "-", "-"])
    for peer in dict.fromkeys([fastest_latency, "onnxruntime fp32"]):
        rows.append([f"batch-1 latency, median call: ours `{ours_quickest}` against `{peer}`",
                     f"{lat[ours_quickest]:.2f} ms", f"{lat[peer]:.2f} ms",
                     f"{lat[peer] / lat[ours_quickest]:.2f}x (peer time / ours)", "-", "-"])
        rows.append([f"batch-1 latency, fastest call: ours `{ours_quickest}` against `{peer}`",
                     f"{fastest[ours_quickest]:.2f} ms", f"{fastest[peer]:.2f} ms",
                     f"{fastest[peer] / fastest[ours_quickest]:.2f}x (peer time / ours)", "-", "-"])


def bench_pipeline(a, build, rows, results):
    pack = Path(a.pack)
    if not pack.exists():
        rows.append(["input pipeline", f"skipped: no pack at {pack}", "-", "-", "-", "-"])
        return
    out, _, mem = run([build / "bench_pack", str(pack), "--batches", "300"])
    results["pipeline"] = {"output": out.splitlines(), "peak_mb": mem}
    for line in out.splitlines():
        if line.startswith(("load:", "sample+gather", "pipeline", "augment")):
            rows.append([f"input pipeline: {line.split(':', 1)[0]}", line.split(":", 1)[1].strip(), "-", "-",
                         f"{mem:.0f} MB", "-"])


def bench_align(a, build, rows, results):
    raw = Path(a.data) / "lfw" / "deepfunneled"
    if not raw.is_dir():
        rows.append(["align", f"skipped: no {raw}", "-", "-", "-", "-"])
        return
    with tempfile.TemporaryDirectory() as work:
        images = sorted(raw.glob("*/*.jpg"))[: a.align_images]
        for image in images:
            target = Path(work) / "raw" / image.parent.name / image.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(image.resolve())
        _, seconds, mem = run([build / "align", Path(work) / "raw", Path(work) / "out"])
    rate = len(images) / seconds
    results["align"] = {"images": len(images), "seconds": seconds, "img_s": rate, "peak_mb": mem}
    rows.append([f"align, first {len(images)} LFW images", f"{rate:.1f} img/s ({seconds:.1f} s)", "-", "-",
                 f"{mem:.0f} MB", "-"])


def bench_evaluate(a, build, rows, results):
    images = Path(a.lfw_aligned)
    pairs = Path(a.data) / "lfw" / "pairs.txt"
    if not images.is_dir() or not pairs.exists():
        rows.append(["evaluate View 2", f"skipped: needs {images} (tools/run.sh aligns LFW) and {pairs}",
                     "-", "-", "-", "-"])
        return
    with tempfile.TemporaryDirectory() as work:
        _, seconds, mem = run([build / "evaluate", "--pairs", pairs, "--images", images, "--model", "random",
                               "--out", work])
    results["evaluate_view2"] = {"seconds": seconds, "peak_mb": mem}
    rows.append(["evaluate LFW View 2 (6,000 pairs, aligned tree, alignment excluded)", f"{seconds:.1f} s wall",
                 "-", "-", f"{mem:.0f} MB", "-"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=None, help="images per step (default 96 on CPU, 540 on CUDA)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--stages", default="train,infer,peers,pipeline,align,evaluate")
    ap.add_argument("--graph", default="folded", choices=["eager", "folded", "frozen", "onednn"],
                    help="what runs our inference (bench_infer --graph; embedders run `folded`)")
    ap.add_argument("--compile", action="store_true", help="also the reference's torch.compile mode (CUDA)")
    ap.add_argument("--build", default=os.environ.get("BUILD_DIR", str(ROOT / "build")))
    ap.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    ap.add_argument("--ref", default=str(ROOT.parent / "shared/bench/ref_nn4.py"))
    ap.add_argument("--data", default=os.environ.get("FACE_DATA", str(ROOT.parent / "shared/data")))
    ap.add_argument("--pack", default=str(ROOT / "experiments/data/celeba.pack"))
    ap.add_argument("--lfw-aligned", default=str(ROOT / "experiments/data/lfw-aligned"))
    ap.add_argument("--align-images", type=int, default=300)
    ap.add_argument("--out", default=str(ROOT / "experiments/bench"))
    a = ap.parse_args()
    a.stages = set(a.stages.split(","))
    a.batch = a.batch or (96 if a.device == "cpu" else 540)
    build = Path(a.build)
    if not Path(a.ref).exists():
        a.ref = str(ROOT / ".bench/ref_nn4.py")

    info, rows, results = machine(), [], {}
    a.native_bf16 = a.device == "cpu" and cpu_native_bf16(a)
    info["cpu_flags"] = cpu_flags()
    info["native_bf16"] = a.native_bf16
    if "train" in a.stages:
        bench_train_and_infer(a, build, rows, results)
        summarise_best(a, rows, results)
    if "peers" in a.stages:
        bench_peers(a, build, rows, results)
    if "pipeline" in a.stages:
        bench_pipeline(a, build, rows, results)
    if "align" in a.stages:
        bench_align(a, build, rows, results)
    if "evaluate" in a.stages:
        bench_evaluate(a, build, rows, results)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]

    header = (f"Machine: {info['cpu']}, {info['cores']} cores ({info['host']}), CPU flags {' '.join(info['cpu_flags'])} "
              f"(native bf16: {'yes' if a.native_bf16 else 'no'}); commit {info['commit']}; "
              f"{info['date']}; load {info['load_before']} before, {info['load_after']} after; "
              f"{a.repeats} repeats, best / median.\n\n"
              "| stage | ours (best / median) | Python reference (best / median) | ratio of medians | ours peak memory | reference peak memory |\n"
              "| --- | --- | --- | --- | --- | --- |\n")
    table = header + "".join("| " + " | ".join(r) + " |\n" for r in rows)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{info['host']}-{a.device}"
    for path, text in ((stem.with_suffix(".json"), json.dumps({"machine": info, "results": results}, indent=1)),
                       (stem.with_suffix(".md"), table)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    print(table)
    print(f"written: {stem}.json, {stem}.md")


if __name__ == "__main__":
    main()
