// embedding_pass.h: every distinct image embedded once, in batches, optionally with its mirror.
//
// With `flip`, each image's embedding is the sum of the embeddings of the image and of its
// horizontally mirrored copy, re-normalised to unit length: a face and its mirror image are the
// same person, and averaging the two removes some pose and lighting asymmetry. (facenet's
// --use_flipped_images concatenates the two instead; the sum keeps the embedding dimension, so
// thresholds stay in [0, 4].) Rows come back L2-normalised either way.
#pragma once
#include <torch/types.h>

#include "model/embedder.h"
#include "util/progress.h"

namespace face {

struct EmbeddingPassOptions {
  int64_t batch = 128;  // images per forward pass (a flipped batch doubles it)
  bool flip = false;
};

// uint8 (N, 3, H, W) -> float (N, D) on the CPU, rows unit length. `progress` (optional) is
// advanced by the images of each batch.
torch::Tensor embed_images(Embedder& embedder, const torch::Tensor& images, const EmbeddingPassOptions& options,
                           Progress* progress = nullptr);

}  // namespace face
