#!/usr/bin/env python3
"""peer_runtimes.py: the inference runtimes a user would pick instead of ours, on the same
nn4.small2 exported to ONNX (tools/export_onnx.py), measured with bench_infer's statistic.

    .venv/bin/python tools/peer_runtimes.py MODEL.onnx --runtime onnxruntime|openvino
        [--precision default|fp32] [--batch 96] [--steps 5] [--warm 2] [--threads N]

--precision default: the runtime's own default on this CPU (onnxruntime: fp32; OpenVINO: bf16
where the CPU has native bf16, else fp32); fp32: forced (OpenVINO's INFERENCE_PRECISION_HINT f32).
Prints one JSON line: large-batch images/s (total images / total time of the timed calls, as the
Python reference and bench_infer count), best and median call, batch-1 latency (min, median) and
the precision the runtime reports it ran in."""
import argparse
import json
import sys
import time

import numpy as np


def timed(fn, warm, steps):
    for _ in range(warm):
        fn()
    seconds = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return sorted(seconds)


def onnxruntime_session(path, threads, precision):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return (lambda x: session.run(None, {name: x})[0]), "fp32", ort.__version__


def openvino_session(path, threads, precision):
    import openvino as ov
    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    if precision == "fp32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    model = core.read_model(path)
    compiled = {}

    def run(x):
        # One compiled model per batch size: OpenVINO specialises on static shapes.
        if x.shape[0] not in compiled:
            m = model.clone()
            m.reshape([x.shape[0], 3, x.shape[2], x.shape[3]])
            compiled[x.shape[0]] = core.compile_model(m, "CPU", config)
        request = compiled[x.shape[0]]
        return request(x)[0]

    run(np.zeros((1, 3, 96, 96), np.float32))
    ran = str(compiled[1].get_property("INFERENCE_PRECISION_HINT"))
    return run, {"<Type: 'float32'>": "fp32", "f32": "fp32", "bf16": "bf16"}.get(ran, ran), ov.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--runtime", required=True, choices=["onnxruntime", "openvino"])
    ap.add_argument("--precision", default="default", choices=["default", "fp32"])
    ap.add_argument("--batch", type=int, default=96)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    for name, value, lo in (("--batch", a.batch, 1), ("--steps", a.steps, 1), ("--warm", a.warm, 0),
                            ("--threads", a.threads, 1)):
        if value < lo:
            sys.exit(f"peer_runtimes: {name} must be at least {lo}, got {value}")
    make = onnxruntime_session if a.runtime == "onnxruntime" else openvino_session
    run, ran_in, version = make(a.model, a.threads, a.precision)
    rng = np.random.default_rng(0)
    big = rng.random((a.batch, 3, 96, 96), dtype=np.float32)
    one = rng.random((1, 3, 96, 96), dtype=np.float32)
    batch_s = timed(lambda: run(big), a.warm, a.steps)
    # Batch 1 is short and noisy: 100 timed calls at least, as bench_infer times.
    single_s = timed(lambda: run(one), max(a.warm, 10), max(a.steps, 100))
    out = run(big)
    print(json.dumps({
        "runtime": a.runtime, "version": version, "precision_asked": a.precision, "precision": ran_in,
        "threads": a.threads, "batch": a.batch,
        "infer_img_s": round(a.batch * len(batch_s) / sum(batch_s), 1),
        "infer_img_s_max": round(a.batch / batch_s[0], 1),
        "infer_img_s_median": round(a.batch / batch_s[len(batch_s) // 2], 1),
        "batch1_ms_min": round(single_s[0] * 1e3, 2), "batch1_ms_median": round(single_s[len(single_s) // 2] * 1e3, 2),
        "max_norm_error": float(np.abs(np.linalg.norm(out, axis=1) - 1).max())}))


if __name__ == "__main__":
    main()
