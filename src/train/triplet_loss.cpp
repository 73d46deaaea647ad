#include "train/triplet_loss.h"

#include <torch/torch.h>

namespace face {

torch::Tensor squared_distances(const torch::Tensor& embeddings) {
  return (embeddings.unsqueeze(1) - embeddings.unsqueeze(0)).pow(2).sum(-1);
}

torch::Tensor triplet_margins(const torch::Tensor& distances, double margin) {
  return distances.unsqueeze(2) - distances.unsqueeze(1) + margin;
}

torch::Tensor triplet_loss(const torch::Tensor& embeddings, const torch::Tensor& mask,
                           const TripletLossOptions& options) {
  return triplet_loss_from_distances(squared_distances(embeddings.to(torch::kFloat32)), mask, options);
}

torch::Tensor triplet_loss_from_distances(const torch::Tensor& distances, const torch::Tensor& mask,
                                          const TripletLossOptions& options) {
  auto losses = torch::relu(triplet_margins(distances, options.margin));
  auto selected = losses * mask;
  auto counted = options.average_over_active ? (mask & (losses > 0)) : mask;
  return selected.sum() / counted.sum().clamp_min(1);
}

}  // namespace face
