// onnx_export.h: a TorchScript export (deploy/export.h) as an ONNX model, for users who deploy
// with onnxruntime, OpenVINO or TensorRT.
//
// LibTorch's C++ API has no ONNX writer, so this runs tools/export_onnx.py with the project
// venv's Python and torch (the legacy TorchScript exporter: the traced graph is standard ops, the
// LRN included, so it maps onto plain ONNX ops). The script checks the ONNX model against the
// TorchScript module in onnxruntime to 1e-5 before it renames the file into place, and copies
// the export's metadata into the model's metadata_props.
#pragma once
#include <filesystem>

namespace face {

// The Python that has the project's torch and onnx: $FACE_PYTHON when set, else .venv/bin/python
// beside the sources (tools/setup.sh installs both).
std::filesystem::path project_python();

// Writes `onnx` from the TorchScript export `torchscript`; face::Error with the script's own
// message when the Python, its packages or the conversion fail.
void export_onnx(const std::filesystem::path& torchscript, const std::filesystem::path& onnx, int opset = 17);

}  // namespace face
