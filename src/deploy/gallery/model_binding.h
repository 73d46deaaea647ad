// model_binding.h: what ties an embedding model to galleries and thresholds.
#pragma once
#include <optional>
#include <string>

#include "deploy/gallery/gallery.h"
#include "model/embedder.h"

namespace face {

// The gallery record of `embedder` (its weights fingerprint, size and description).
GalleryModel gallery_model(const Embedder& embedder);

// `given` when set, else the threshold the model records (export --threshold); face::Error
// naming `model_name` when there is neither.
double resolve_threshold(const Embedder& embedder, std::optional<double> given, const std::string& model_name);

}  // namespace face
