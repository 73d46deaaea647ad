#include "data/draw_weights.h"

#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "util/error.h"

namespace face {

torch::Tensor load_draw_weights(const std::filesystem::path& file, const std::vector<std::string>& paths) {
  std::ifstream in(file);
  if (!in) fail("draw weights '{}': cannot be read", file.string());
  std::unordered_map<std::string, int64_t> index;
  for (size_t i = 0; i < paths.size(); ++i) index.emplace(paths[i], static_cast<int64_t>(i));
  std::vector<float> weights(paths.size(), 0.0f);
  std::vector<bool> listed(paths.size(), false);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string path, rest;
    double weight = 0;
    if (!(fields >> path)) continue;  // blank or comment
    if (!(fields >> weight) || (fields >> rest))
      fail("draw weights '{}' line {}: expected '<path> <weight>', got '{}'", file.string(), number, line);
    if (!std::isfinite(weight) || weight < 0)
      fail("draw weights '{}' line {}: weight {} of '{}' is not a finite number >= 0", file.string(), number, weight, path);
    auto it = index.find(path);
    if (it == index.end()) fail("draw weights '{}' line {}: '{}' is not in the pack", file.string(), number, path);
    if (listed[it->second]) fail("draw weights '{}' line {}: '{}' is listed twice", file.string(), number, path);
    listed[it->second] = true;
    weights[it->second] = static_cast<float>(weight);
  }
  for (size_t i = 0; i < paths.size(); ++i)
    if (!listed[i]) fail("draw weights '{}': the pack's image '{}' has no weight", file.string(), paths[i]);
  auto out = torch::tensor(weights, torch::kFloat);
  if (out.numel() == 0 || out.sum().item<double>() <= 0) fail("draw weights '{}': every weight is 0", file.string());
  return out;
}

torch::Tensor draw_weighted(const torch::Tensor& weights, int64_t n) {
  return torch::multinomial(weights, n, /*replacement=*/true);
}

}  // namespace face
