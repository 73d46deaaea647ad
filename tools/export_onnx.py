#!/usr/bin/env python3
"""export_onnx.py: a facenet-cpp TorchScript export as an ONNX model, for onnxruntime, OpenVINO
or TensorRT. `export --onnx FILE` runs it with the project venv's torch; it can also be run alone:

    .venv/bin/python tools/export_onnx.py MODEL.pt MODEL.onnx [--opset 17]

The traced graph (src/model/traced_network.h) is built from standard operators, the LRN
included (its composite form: square, pad, 3-d average pool, pow, divide), so the legacy
TorchScript exporter writes it as plain ONNX ops (Mul, Pad, AveragePool, Pow, Div), which every
runtime implements and which reproduce our fused CPU kernel to float rounding. The batch axis is
dynamic. The export's metadata (arch, threshold, distance, align_recipe, weights_fingerprint, ...)
goes into the ONNX model's metadata_props, each value as text, and "facenet.json" holds it whole.

Input "images": float32 (m, 3, S, S) RGB in [0, 1], NCHW; output "embeddings": (m, D), unit rows.
Exits 1 with a message naming the file when it is not a facenet-cpp export or the result does not
match the TorchScript module on a batch of another size (onnxruntime, when installed)."""
import argparse
import json
import os
import sys
import tempfile
import warnings


def fail(message):
    print(f"export_onnx: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="TorchScript export (export --out)")
    ap.add_argument("out", help="ONNX file to write (written to a temporary name, then renamed)")
    ap.add_argument("--opset", type=int, default=17)
    a = ap.parse_args()
    if not 13 <= a.opset <= 21:
        fail(f"--opset must be in [13, 21], got {a.opset}")

    import numpy as np
    import onnx
    import torch

    extra = {"facenet.json": ""}
    try:
        module = torch.jit.load(a.model, map_location="cpu", _extra_files=extra)
    except Exception as e:  # noqa: BLE001 - any load failure is the user's file
        fail(f"'{a.model}' is not a TorchScript module: {e}")
    if not extra["facenet.json"]:
        fail(f"'{a.model}' is not a facenet-cpp export (no facenet.json)")
    metadata = json.loads(extra["facenet.json"])
    size = int(metadata.get("input_size", 96))
    module.eval()

    example = torch.rand(2, 3, size, size)
    directory = os.path.dirname(os.path.abspath(a.out))
    if not os.path.isdir(directory):
        fail(f"the folder of '{a.out}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".onnx-", dir=directory)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            torch.onnx.export(module, (example,), tmp, dynamo=False, opset_version=a.opset,
                              input_names=["images"], output_names=["embeddings"],
                              dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}})
        model = onnx.load(tmp)
        expand_pool_attributes(model)
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
        entry = model.metadata_props.add()
        entry.key, entry.value = "facenet.json", extra["facenet.json"]
        model.producer_name = "facenet-cpp"
        onnx.checker.check_model(model)
        with open(tmp, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        check_against_torchscript(module, tmp, size)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary name only
        os.replace(tmp, a.out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(json.dumps({"onnx": a.out, "opset": a.opset, "arch": metadata.get("arch"),
                      "weights_fingerprint": metadata.get("weights_fingerprint")}))


def expand_pool_attributes(model):
    """Exports traced before the LRN spelled out its pooling per axis hold AveragePool nodes with
    one stride (and one pad) for a 3-d kernel, which ONNX refuses: repeat them per axis."""
    import onnx
    for node in model.graph.node:
        if node.op_type not in ("AveragePool", "MaxPool"):
            continue
        attrs = {a.name: a for a in node.attribute}
        axes = len(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else 0
        for name, want in (("strides", axes), ("pads", 2 * axes)):
            a = attrs.get(name)
            if a is not None and 0 < len(a.ints) < want and len(set(a.ints)) == 1:
                values = [a.ints[0]] * want
                node.attribute.remove(a)
                node.attribute.append(onnx.helper.make_attribute(name, values))


def check_against_torchscript(module, path, size):
    """The ONNX model must compute what the TorchScript module computes, on another batch size."""
    import numpy as np
    import torch
    try:
        import onnxruntime as ort
    except ImportError:
        return  # nothing to check with; the caller's tests use onnxruntime
    x = torch.rand(5, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = module(x).numpy()
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": x.numpy()})[0]
    difference = float(np.abs(got - expected).max())
    if got.shape != expected.shape or not difference <= 1e-5:
        fail(f"the ONNX model differs from the TorchScript module by {difference:.3g} (shape {got.shape})")


if __name__ == "__main__":
    main()
