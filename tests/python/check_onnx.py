"""Runs a facenet-cpp ONNX export in onnxruntime and checks it against the C++ embedder.

usage: check_onnx.py MODEL.onnx INPUT.npy EXPECTED.npy FINGERPRINT
  INPUT.npy     float32 (m, 3*96*96): the images as the network takes them, flattened
  EXPECTED.npy  float32 (m, D): what the C++ embedder (folded batch norm, fused LRN) computed
  FINGERPRINT   the weights fingerprint the C++ side reported
Prints the largest difference; exits 0 when it is within 1e-5 and the metadata is the export's.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, input_path, expected_path, fingerprint = sys.argv[1:5]
    metadata = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    images = np.load(input_path).reshape(-1, 3, 96, 96).astype(np.float32)
    expected = np.load(expected_path)
    got = session.run(None, {"images": images})[0]
    difference = float(np.abs(got - expected).max())
    whole = json.loads(metadata.get("facenet.json", "{}"))
    print(f"inputs {[i.name for i in session.get_inputs()]} outputs {[o.name for o in session.get_outputs()]} "
          f"shape {got.shape} max_difference {difference:.3g} arch {metadata.get('arch')} "
          f"fingerprint {metadata.get('weights_fingerprint')} threshold {metadata.get('threshold')}")
    ok = (got.shape == expected.shape and difference <= 1e-5 and metadata.get("weights_fingerprint") == fingerprint
          and whole.get("weights_fingerprint") == fingerprint)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
