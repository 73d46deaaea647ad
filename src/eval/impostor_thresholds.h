// impostor_thresholds.h: the distances at strict false accept rates, estimated from every pair of
// different people among a pair list's images rather than from the list's own impostor pairs.
//
// Why: a verification list holds too few impostor pairs for the rates that matter outside a
// benchmark. LFW View 1 has 500, so FAR 1e-3 rests on half a pair and FAR 1e-4 is out of reach;
// but its 1,549 images of 963 people make 1,197,943 pairs of different people. Clustering a
// collection works at such rates (each face meets thousands of strangers, so one false edge in
// ten thousand already merges people): `export --report` records these distances
// (deploy/export.h "far_thresholds") and `cluster` takes its default from them
// (deploy/cluster/cluster_threshold.h).
//
// For each target FAR f over the N impostor pairs (sorted distances d_0 <= d_1 <= ...), the
// threshold is d_k with k = floor(f * N): "same" is distance < threshold (eval/pair_scoring.h),
// so k impostor pairs (fewer on ties) are accepted, a FAR of k / N <= f. A target with fewer
// than `min_accepted` expected false accepts (f * N) is left out: it would be a guess.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "eval/pair_list.h"
#include "eval/pair_scoring.h"

namespace face {

struct StrictThreshold {
  double far_target = 0;
  double threshold = 0;   // the distance: pairs strictly below it are accepted
  int64_t accepted = 0;   // impostor pairs strictly below the threshold
};

struct ImpostorThresholds {
  int64_t images = 0, identities = 0;
  int64_t impostor_pairs = 0;       // pairs of images of different identities
  std::vector<StrictThreshold> at;  // one per target kept, in the order given
};

// The fewest expected false accepts (f * N) for which a threshold at FAR f is estimated.
inline constexpr int64_t kMinExpectedFalseAccepts = 10;

// How many pairs of rows belong to different people; identity[i]: row i's person.
int64_t impostor_pair_count(const std::vector<int64_t>& identity);

// rows: float (N, D), unit rows; identity[i]: row i's person (any labels, N of them).
// Requires: fars in (0, 1). Works in blocks of rows, never holding the N x N distances.
ImpostorThresholds impostor_thresholds(const torch::Tensor& rows, const std::vector<int64_t>& identity,
                                       const std::vector<double>& fars, DistanceKind distance,
                                       int64_t min_accepted = kMinExpectedFalseAccepts);

// The person of each of a pair list's images: LFW's lists name them (the image's folder is the
// name); a CSV list does not, and gets an empty result.
std::vector<int64_t> pair_list_identities(const PairList& list, const std::vector<std::string>& images);

}  // namespace face
