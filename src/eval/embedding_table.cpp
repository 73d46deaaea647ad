#include "eval/embedding_table.h"

#include <torch/torch.h>

#include <sstream>

#include "eval/pair_scoring.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/npy.h"

namespace face {

EmbeddingTable::EmbeddingTable(const std::filesystem::path& npy, const std::filesystem::path& names) {
  torch::Tensor raw = read_npy(npy).to(torch::kFloat32);
  std::string text = read_file(names);
  std::istringstream in(text);
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) fail("{}:{}: empty name (every row of {} needs one)", names.string(), line_number, npy.string());
    names_.push_back(line);
  }
  if (static_cast<int64_t>(names_.size()) != raw.size(0))
    fail("{} has {} names but {} has {} rows", names.string(), names_.size(), npy.string(), raw.size(0));
  if (!torch::isfinite(raw).all().item<bool>()) fail("{}: some embeddings are NaN or infinite", npy.string());

  auto norms = raw.norm(2, 1);
  renormalised_ = ((norms - 1.0).abs() > 1e-3).sum().item<int64_t>();
  if ((norms == 0).any().item<bool>()) fail("{}: some embeddings are all zero", npy.string());
  embeddings_ = l2_normalise(raw);

  for (size_t i = 0; i < names_.size(); ++i) {
    const std::string& name = names_[i];
    if (!exact_.emplace(name, i).second) fail("{}:{}: name '{}' appears twice", names.string(), i + 1, name);
    for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
      auto [it, added] = suffix_.emplace(name.substr(slash + 1), i);
      if (!added) it->second = -2;
    }
  }
  checksum_ = Fnv1a().update(read_file(npy)).update(text).hex();
}

int64_t EmbeddingTable::row(const std::string& image) const {
  if (auto it = exact_.find(image); it != exact_.end()) return it->second;
  auto it = suffix_.find(image);
  if (it == suffix_.end()) return -1;
  if (it->second == -2) fail("image '{}' matches several names in the names file by suffix; use exact names", image);
  return it->second;
}

}  // namespace face
