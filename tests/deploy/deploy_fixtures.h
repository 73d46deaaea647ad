// deploy_fixtures.h: models and face images for the deploy tests.
#pragma once
#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "deploy/export.h"
#include "model/model_file.h"
#include "test_support.h"

namespace face::test {

// An exported random-weights model (threshold `threshold`), as verify/identify load them.
// Exported once per test process (tracing and the export's own check take seconds) and shared.
inline std::filesystem::path exported_model(uint64_t seed, double threshold = 0.5,
                                            const std::vector<std::pair<double, double>>& far_thresholds = {}) {
  static TempDir models;
  std::string table;
  for (const auto& [far, t] : far_thresholds) table += fmt::format("_{}-{}", far, t);
  auto path = models / fmt::format("model{}_{}{}.pt", seed, threshold, table);
  if (!std::filesystem::exists(path)) {
    Nn4 model(Nn4Options("nn4.small2").seed(seed));
    ExportOptions o;
    o.threshold = threshold;
    o.far_thresholds = far_thresholds;
    o.source = "test";
    export_model(model, path, o);
  }
  return path;
}

// A random-weights model file (a checkpoint without trainer state): quick to write, and it
// records no threshold, so commands using it pass --threshold.
inline std::filesystem::path model_file(uint64_t seed) {
  static TempDir models;
  auto path = models / fmt::format("ckpt{}.pt", seed);
  if (!std::filesystem::exists(path)) {
    Nn4 model(Nn4Options("nn4.small2").seed(seed));
    save_model_file(path, model);
  }
  return path;
}

// A 96x96 noise image standing in for an aligned face.
inline void write_face(const std::filesystem::path& p, int seed) {
  std::filesystem::create_directories(p.parent_path());
  cv::Mat m(96, 96, CV_8UC3);
  cv::setRNGSeed(seed);
  cv::randu(m, 0, 255);
  ASSERT_TRUE(cv::imwrite(p.string(), m));
}

// `people` folders of `per_person` faces each: dir/person00/0.png ...
inline void write_people(const std::filesystem::path& dir, int people, int per_person) {
  for (int p = 0; p < people; ++p)
    for (int i = 0; i < per_person; ++i) write_face(dir / fmt::format("person{:02d}/{}.png", p, i), p * 100 + i);
}

}  // namespace face::test
