// model_binding.h: what ties an embedding model to galleries (its threshold is the deployed
// model's: vision/deployed_model.h).
#pragma once
#include "deploy/gallery/gallery.h"
#include "model/embedder.h"

namespace face {

// The gallery record of `embedder` (its weights fingerprint, size and description).
GalleryModel gallery_model(const Embedder& embedder);

}  // namespace face
