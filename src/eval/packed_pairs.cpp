#include "eval/packed_pairs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <unordered_map>

#include "eval/pair_scoring.h"
#include "util/error.h"

namespace face {

namespace {

// "A/A_0001.jpg" -> "A/A_0001": the key both sides are matched by.
std::string without_extension(const std::string& relative) {
  std::filesystem::path p = std::filesystem::path(relative).lexically_normal();
  return p.replace_extension().generic_string();
}

}  // namespace

PackedPairs resolve_pairs_in_pack(PairList list, const Pack& pack, const std::string& pack_name, int folds) {
  std::unordered_map<std::string, int64_t> in_pack;
  for (size_t i = 0; i < pack.paths.size(); ++i) in_pack.emplace(without_extension(pack.paths[i]), static_cast<int64_t>(i));

  PairIndex index = index_pair_images(list.pairs);
  std::vector<int64_t> pack_rows;
  std::vector<std::string> missing;
  for (const auto& image : index.images) {
    auto it = in_pack.find(without_extension(image));
    if (it == in_pack.end()) missing.push_back(image);
    else pack_rows.push_back(it->second);
  }
  if (!missing.empty()) {
    // The line of the first pair naming each of the first few missing images.
    std::vector<std::string> examples;
    for (const auto& image : missing) {
      if (examples.size() == 5) break;
      for (const auto& p : list.pairs)
        if (p.first == image || p.second == image) {
          examples.push_back(fmt::format("'{}' (line {})", image, p.line));
          break;
        }
    }
    fail("pack '{}' lacks {} of the {} images that '{}' names, e.g. {}: build the pack from the whole aligned "
         "LFW tree (`pack --min-images 1`)",
         pack_name, missing.size(), index.images.size(), list.path, fmt::join(examples, ", "));
  }

  PackedPairs out;
  out.images = pack.images.index_select(0, torch::tensor(pack_rows, torch::kLong));
  out.rows = std::move(index.rows);
  out.names = std::move(index.images);
  for (const auto& p : list.pairs) out.same.push_back(p.same);
  out.folds = scoring_folds(list.pairs, list.folds, folds);
  out.list = std::move(list);
  return out;
}

}  // namespace face
