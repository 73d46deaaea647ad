// draw_weights.h: how often each face of a pack is drawn, from a text file a user (or
// tools/unlabelled_weights.py) writes, for sampling that is not uniform: e.g. faces of the groups a
// dataset under-represents drawn as often as the others (data.unlabelled_weights).
//
// File: one face per line, "<path> <weight>", the path as the pack records it (relative to the
// folder it was packed from); '#' starts a comment, blank lines are skipped. Weights are finite and
// >= 0; only their ratios matter.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace face {

// Requires: `paths` are the pack's image paths in pack order. Ensures: float (paths.size()) of the
// weights in pack order. Fails (face::Error naming the file, and the line where there is one) on an
// unreadable file, a malformed line, a negative or non-finite weight, a path listed twice or not in
// the pack, a pack image the file does not list, or weights that are all 0.
torch::Tensor load_draw_weights(const std::filesystem::path& file, const std::vector<std::string>& paths);

// `n` indices in [0, weights.size(0)), drawn with replacement in proportion to `weights` from the
// default CPU generator (the run's seeded one), int64 on the CPU.
torch::Tensor draw_weighted(const torch::Tensor& weights, int64_t n);

}  // namespace face
