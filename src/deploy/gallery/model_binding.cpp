#include "deploy/gallery/model_binding.h"

#include "util/error.h"

namespace face {

GalleryModel gallery_model(const Embedder& embedder) {
  return {embedder.fingerprint(), embedder.embedding_dim(), embedder.description()};
}

double resolve_threshold(const Embedder& embedder, std::optional<double> given, const std::string& model_name) {
  if (given) return *given;
  std::string recorded = embedder.metadata("threshold");
  if (recorded.empty())
    fail("model '{}' records no verification threshold: pass --threshold T (or export the model with one)", model_name);
  return std::stod(recorded);
}

}  // namespace face
