// bf16 inference on real faces (model/precision.h): the released model's embeddings of LFW faces,
// aligned by its own recipe, in bf16 against fp32. Runs on every CPU (without native bf16 oneDNN
// emulates it: slower, the same numbers); the View 1 accuracy check is in released_model_test.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "test_support.h"
#include "vision/face_reader.h"
#include "vision/model_catalog.h"

using namespace face;

TEST(Bf16Inference, ReleasedModelOnLfwFacesKeepsCosineAbove0_9995) {
  FACE_REQUIRE_SHARED_DATA();
  ModelChoice fp32_choice{(test::source_dir() / kReleasedModelFile).string()};
  ModelChoice bf16_choice = fp32_choice;
  bf16_choice.precision = Precision::bf16;
  auto fp32 = open_model(fp32_choice, torch::kCPU);
  auto bf16 = open_model(bf16_choice, torch::kCPU);
  ASSERT_EQ(bf16->precision(), Precision::bf16);

  // The first image of the first 48 people with two or more, aligned as the model was trained.
  std::vector<std::filesystem::path> people;
  for (auto& e : std::filesystem::directory_iterator(test::shared_data() / "lfw/deepfunneled")) people.push_back(e.path());
  std::sort(people.begin(), people.end());
  FaceReadOptions options = faces_for_model(fp32->metadata("align_recipe"), static_cast<int>(fp32->input_size()),
                                            /*aligned=*/false);
  options.align.no_face = NoFace::centre_crop;
  FaceReader reader(options);
  std::vector<torch::Tensor> faces;
  for (const auto& person : people) {
    if (faces.size() == 48) break;
    auto second = person / fmt::format("{}_0002.jpg", person.filename().string());
    if (!std::filesystem::exists(second)) continue;
    faces.push_back(reader.read(person / fmt::format("{}_0001.jpg", person.filename().string())).image);
  }
  ASSERT_EQ(faces.size(), 48u);
  auto images = torch::stack(faces);
  auto a = fp32->embed_all(images, 16), b = bf16->embed_all(images, 16);
  auto cosine = (a * b).sum(1);
  const float worst = cosine.min().item<float>(), mean = cosine.mean().item<float>();
  RecordProperty("bf16_cosine_min", fmt::format("{:.6f}", worst));
  fmt::print("bf16 against fp32 on {} LFW faces: cosine min {:.6f}, mean {:.6f}\n", faces.size(), worst, mean);
  EXPECT_GE(worst, 0.9995f);
  EXPECT_LT(mean, 1.0f - 1e-7f) << "bf16 must really have run";
}
