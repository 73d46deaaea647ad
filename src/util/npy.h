// npy.h: float32 matrices in NumPy's .npy format (version 1.0, little-endian, C order), the
// interchange format for embeddings: `numpy.load(F)` reads what write_npy writes.
#pragma once
#include <torch/types.h>

#include <filesystem>

namespace face {

// Writes a 2-D float32 tensor (any device) atomically.
void write_npy(const std::filesystem::path& path, const torch::Tensor& matrix);

// Reads a 2-D float32 (or float64, converted) .npy; face::Error naming the file otherwise.
torch::Tensor read_npy(const std::filesystem::path& path);

}  // namespace face
