// face_loader.h: image files -> the uint8 (N, 3, 96, 96) tensor an Embedder takes, decoded in
// parallel, every failure recorded per image instead of stopping the batch.
//
// Preparation, in order: decode to RGB (image_io.h); then either align (`align`: the same recipe
// as the `align` tool, one FaceAligner per worker thread; a face not found takes the recipe's
// fallback and is counted) or optionally keep only the central square (`centre_crop`, a fraction
// of the shorter side: a cheap stand-in for alignment on roughly centred crops such as LFW's
// deep-funneled images); resize to `size` if needed (counted when the file itself was not that
// size, since an aligned tree should already be `size` x `size`; a face aligned here at its
// recipe's size, e.g. a 150 px chip for a 96 px network, is resized without being counted).
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "util/progress.h"
#include "vision/face_aligner.h"

namespace face {

struct FaceLoadOptions {
  int size = 96;
  double centre_crop = 0;  // 0: whole image; in (0, 1]: central square of this fraction of the shorter side
  std::optional<AlignOptions> align;  // align raw images on the fly (excludes centre_crop)
  int recipe_size = 0;  // a tree aligned at the model's recipe size (e.g. 150 px chips) is resized uncounted
};

struct LoadedFaces {
  torch::Tensor images;             // uint8 (N, 3, size, size); rows that failed are zero
  std::vector<std::string> errors;  // per file: empty when loaded, else why not (naming the file)
  int64_t resized = 0;              // files that were not size x size (after any crop)
  int64_t align_fallback = 0;       // aligned on the fly, but no face found: the fallback crop was used
  int64_t failed() const;
};

// Loads `files` in parallel (LibTorch's intra-op threads); `progress` (optional) advances per file.
LoadedFaces load_faces(const std::vector<std::filesystem::path>& files, const FaceLoadOptions& options,
                       Progress* progress = nullptr);

}  // namespace face
