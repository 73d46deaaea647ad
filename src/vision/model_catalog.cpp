#include "vision/model_catalog.h"

#include <fmt/format.h>

#include <cstdlib>

#include "util/error.h"
#include "util/run_info.h"
#include "vision/dlib_resnet_import.h"

namespace face {
namespace fs = std::filesystem;

fs::path released_model_path() {
  if (const char* env = std::getenv("FACE_MODEL"); env && *env) return env;
  return source_dir() / kReleasedModelFile;
}

std::unique_ptr<Embedder> open_model(const ModelChoice& choice, const torch::Device& device) {
  if (choice.model.empty()) {
    fs::path released = released_model_path();
    std::error_code ec;
    if (!fs::is_regular_file(released, ec))
      fail("no --model given and the released model '{}' is missing (pass --model FILE, 'dlib-resnet', or 'random')",
           released.string());
    return load_embedder(released, device, choice.precision);
  }
  if (choice.model == kDlibResNetName) return dlib_resnet_embedder(find_dlib_resnet_file(), device, choice.precision);
  if (choice.model == "random") {
    fmt::print(stderr,
               "WARNING: --model random: RANDOMLY INITIALISED {} weights (seed {}).\n"
               "WARNING: embeddings and figures from them are meaningless for recognition.\n",
               choice.arch, choice.seed);
    return random_embedder(choice.arch, choice.seed, device, choice.precision);
  }
  return load_embedder(choice.model, device, choice.precision);
}

}  // namespace face
