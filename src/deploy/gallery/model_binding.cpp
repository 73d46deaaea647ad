#include "deploy/gallery/model_binding.h"

namespace face {

GalleryModel gallery_model(const Embedder& embedder) {
  return {embedder.fingerprint(), embedder.embedding_dim(), embedder.description()};
}

}  // namespace face
