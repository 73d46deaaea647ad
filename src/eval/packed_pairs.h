// packed_pairs.h: a verification pair list resolved against the images of a pack.
//
// The trainer scores LFW View 1 (pairsDevTest.txt) during training without decoding JPEGs (the
// GPU machine has no OpenCV): the LFW images come from a pack (`pack ALIGNED_LFW lfw.pack`), whose
// `paths` are relative to the aligned tree ("Aaron_Peirsol/Aaron_Peirsol_0001.jpg"), exactly as
// the pair list names them. A pair's image matches a pack image when the two relative paths agree
// without their extensions, so a tree aligned with `align --format png` (".png" names) matches
// the list's ".jpg" names too.
//
// Only the images the pairs use are kept (a copy of those rows), so a whole-LFW pack (13,233
// images) costs memory only while it is being resolved. Every listed image must be in the pack:
// a subset scored silently would not be comparable across runs, so missing ones fail with
// face::Error naming the pack, the list, how many are missing and the first few (with the line).
#pragma once
#include <torch/types.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "data/pack.h"
#include "eval/pair_list.h"

namespace face {

struct PackedPairs {
  PairList list;                              // as read (format, folds, checksum, pairs)
  torch::Tensor images;                       // uint8 (M, 3, H, W): each distinct image once
  std::vector<std::string> names;             // per row of `images`: its name in the list
  std::vector<std::array<int64_t, 2>> rows;   // per pair: its two rows of `images`
  std::vector<bool> same;                     // per pair
  std::vector<int> folds;                     // per pair: the fold it is scored in (pair_scoring.h)
};

// Resolves `list` against `pack`; `folds` as in scoring_folds (used when the list has one fold).
// `pack_name` and the list's path name the inputs in errors.
PackedPairs resolve_pairs_in_pack(PairList list, const Pack& pack, const std::string& pack_name, int folds = 10);

}  // namespace face
