// embedding_table.h: precomputed embeddings (from `embed` or any other framework) looked up by
// image path, so `evaluate --embeddings` scores them with exactly the same protocol.
//
// Input: a float32/float64 .npy of N x D rows and a names file of N lines, line i naming row i
// (what `embed` writes; any tool can write both). A pair list's image path matches a name that is
// equal to it, or, failing that, a name that ends with "/" + the path (so names written as
// absolute paths or relative to another root still match); a path that matches several names by
// suffix is ambiguous and refused. Rows are L2-normalised on reading; how many were not unit
// length is reported.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace face {

class EmbeddingTable {
 public:
  EmbeddingTable(const std::filesystem::path& npy, const std::filesystem::path& names);

  // Row of `image`, or -1 when no name matches; face::Error when several match by suffix.
  int64_t row(const std::string& image) const;
  const torch::Tensor& embeddings() const { return embeddings_; }  // float (N, D), unit rows
  int64_t renormalised() const { return renormalised_; }           // rows that were not unit length
  std::string checksum() const { return checksum_; }               // fingerprint of both files

 private:
  torch::Tensor embeddings_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, int64_t> exact_, suffix_;  // suffix_: -2 marks an ambiguous suffix
  int64_t renormalised_ = 0;
  std::string checksum_;
};

}  // namespace face
