// pixel_embedder.h: the naive verification floor, `evaluate --model pixel`.
//
// The "embedding" of an aligned face is its raw pixels: the uint8 (3, 96, 96) image as float in
// [0, 1] (data/normalisation.h, as the network sees it), flattened to 27,648 values and
// L2-normalised. Its squared L2 distance is then 2 - 2 cos between the two pixel vectors: a
// brightness-invariant template match. Any learned model must clear the accuracy it reaches.
#pragma once
#include <memory>

#include "model/embedder.h"

namespace face {

std::unique_ptr<Embedder> pixel_embedder();

}  // namespace face
