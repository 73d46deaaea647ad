"""Loads an exported facenet-cpp model with plain PyTorch and checks it against C++ results.

usage: check_export.py MODEL INPUT.npy EXPECTED.npy
  INPUT.npy     float32 (m, 3*96*96): the images, flattened
  EXPECTED.npy  float32 (m, D): what the C++ Nn4 computed for them
Prints the metadata and the largest difference; exits 0 when it is within 1e-5.
"""
import json
import sys

import numpy as np
import torch


def main():
    model_path, input_path, expected_path = sys.argv[1:4]
    extra = {"facenet.json": ""}
    model = torch.jit.load(model_path, map_location="cpu", _extra_files=extra)
    model.eval()
    metadata = json.loads(extra["facenet.json"])
    images = torch.from_numpy(np.load(input_path)).reshape(-1, 3, 96, 96)
    expected = torch.from_numpy(np.load(expected_path))
    with torch.no_grad():
        got = model(images)
    difference = (got - expected).abs().max().item()
    norms = got.norm(dim=1)
    print(f"arch {model.arch} threshold {model.threshold} dim {model.embedding_dim} "
          f"fingerprint {model.weights_fingerprint} json_threshold {metadata['threshold']} "
          f"align_recipe {metadata['align_recipe']!r}")
    print(f"shape {tuple(got.shape)} max_difference {difference:.3g} "
          f"max_norm_error {(norms - 1).abs().max().item():.3g}")
    ok = got.shape == expected.shape and difference <= 1e-5 and metadata["threshold"] == model.threshold
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
