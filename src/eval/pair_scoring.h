// pair_scoring.h: from per-image embeddings to per-pair distances and the folds they are scored in.
//
// Distances (the metrics threshold them: "same" when distance < threshold):
//   l2      the SQUARED Euclidean distance between unit embeddings, in [0, 4], as FaceNet and
//           OpenFace threshold it (OpenFace's LFW thresholds run over 0..4; facenet's
//           validate_on_lfw uses sum((a - b)^2)), so thresholds compare with theirs directly.
//   cosine  1 - cos(a, b), in [0, 2]. For unit embeddings it is exactly l2 / 2: every metric except
//           the threshold values is the same.
// Embeddings are L2-normalised before either (a precomputed set that is not unit length is
// normalised on reading; the caller reports it), so both are bounded and comparable across models.
//
// Folds: a pair list with its own folds (LFW View 2) is scored in those folds, whatever pairs were
// left out. A list with one fold (View 1, CSV) is split into `folds` stratified folds in file
// order: matched pair i of n goes to fold floor(i * folds / n), mismatched pairs likewise, so each
// fold holds both kinds in proportion, and the assignment never depends on the distances.
#pragma once
#include <torch/types.h>

#include <array>
#include <string>
#include <vector>

#include "eval/pair_list.h"

namespace face {

enum class DistanceKind { squared_l2, cosine };
DistanceKind parse_distance(const std::string& name);  // "l2" or "cosine"; face::Error otherwise
std::string distance_name(DistanceKind kind);

// The distinct images of a pair list, each once, in order of first appearance, and the two rows
// of each pair into that list (so every image is embedded once).
struct PairIndex {
  std::vector<std::string> images;
  std::vector<std::array<int64_t, 2>> rows;  // one per pair, same order as the pairs
};
PairIndex index_pair_images(const std::vector<ImagePair>& pairs);

// Rows scaled to unit L2 norm (all-zero rows stay zero). Float (N, D) -> float (N, D).
torch::Tensor l2_normalise(const torch::Tensor& embeddings);

// The distance of each pair of rows of `embeddings` (float (N, D), rows unit length).
std::vector<double> pair_distances(const torch::Tensor& embeddings, const std::vector<std::array<int64_t, 2>>& rows,
                                   DistanceKind kind);

// Each pair's fold for scoring (see above): the file's folds when `file_folds` > 1, otherwise
// `folds` stratified folds.
std::vector<int> scoring_folds(const std::vector<ImagePair>& pairs, int file_folds, int folds);

}  // namespace face
