#include "eval/embedding_pass.h"

#include <torch/torch.h>

#include "eval/pair_scoring.h"
#include "util/error.h"

namespace face {

torch::Tensor embed_images(Embedder& embedder, const torch::Tensor& images, const EmbeddingPassOptions& options,
                           Progress* progress) {
  if (options.batch < 1) fail("batch size {} must be positive", options.batch);
  int64_t n = images.size(0);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < n; start += options.batch) {
    int64_t end = std::min(n, start + options.batch);
    torch::Tensor batch = images.slice(0, start, end);
    torch::Tensor e;
    if (options.flip) {
      // One forward pass over the batch and its mirror (dim 3 is the image width).
      torch::Tensor both = embedder.embed(torch::cat({batch, batch.flip({3})}));
      e = both.slice(0, 0, end - start) + both.slice(0, end - start);
    } else {
      e = embedder.embed(batch);
    }
    parts.push_back(l2_normalise(e.to(torch::kFloat32)));
    if (progress) progress->advance(end - start);
  }
  if (parts.empty()) return torch::empty({0, embedder.embedding_dim()});
  return torch::cat(parts);
}

}  // namespace face
