// FaceAligner: the template, the recipe, the no-face policies, which face is chosen, and on real
// LFW faces that the aligned crop has its eye corners where the template says (checked by
// detecting the landmarks again on the aligned crop, not by trusting the warp); align_all finds
// both people of a side-by-side pair, each aligned exactly as align aligns the face it picks.
#include <opencv2/imgproc.hpp>

#include "test_support.h"
#include "util/error.h"
#include "vision/face_aligner.h"
#include "vision/image_io.h"

namespace face {
namespace {

// Loading the 68-landmark model takes a second or two: one aligner per option set for the suite.
FaceAligner& shared_aligner(const AlignOptions& options = {}) {
  static std::map<std::string, std::unique_ptr<FaceAligner>> aligners;
  auto& a = aligners[options.recipe()];
  if (!a) a = std::make_unique<FaceAligner>(options);
  return *a;
}

cv::Mat lfw(const std::string& name, int number) {
  auto path = test::shared_data() / "lfw/deepfunneled" / name / cv::format("%s_%04d.jpg", name.c_str(), number);
  return read_rgb(path).rgb;
}

TEST(FaceAligner, TemplateMatchesOpenFaceMinMaxTemplateAtSize96) {
  // Values of OpenFace's MINMAX_TEMPLATE[[36,45,33]] * 96 and [[39,42,57]] * 96, computed with numpy.
  auto outer = template_points(LandmarkSet::outer_eyes_and_nose, 96);
  EXPECT_NEAR(outer[0].x, 18.6391, 1e-3);
  EXPECT_NEAR(outer[0].y, 16.2496, 1e-3);
  EXPECT_NEAR(outer[1].x, 75.7305, 1e-3);
  EXPECT_NEAR(outer[1].y, 15.1844, 1e-3);
  EXPECT_NEAR(outer[2].x, 47.5153, 1e-3);
  EXPECT_NEAR(outer[2].y, 49.3864, 1e-3);
  auto inner = template_points(LandmarkSet::inner_eyes_and_bottom_lip, 96);
  EXPECT_NEAR(inner[0].x, 34.9234, 1e-3);
  EXPECT_NEAR(inner[1].x, 59.4205, 1e-3);
  EXPECT_NEAR(inner[2].y, 72.0561, 1e-3);
  // Scales linearly with the size.
  EXPECT_NEAR(template_points(LandmarkSet::outer_eyes_and_nose, 192)[1].x, 2 * 75.7305, 2e-3);
  EXPECT_EQ(landmark_indices(LandmarkSet::inner_eyes_and_bottom_lip), (std::array<int, 3>{39, 42, 57}));
}

TEST(FaceAligner, RecipeNamesEveryOptionAndNamesParse) {
  AlignOptions a, b;
  b.landmarks = LandmarkSet::inner_eyes_and_bottom_lip;
  b.size = 112;
  b.upsample = 0;
  b.pick = FacePick::largest;
  b.no_face = NoFace::skip;
  EXPECT_NE(a.recipe(), b.recipe());
  for (std::string part : {"upsample=0", "pick=largest", "39,42,57", "112x112", "no-face=skip"})
    EXPECT_NE(b.recipe().find(part), std::string::npos) << part << " not in " << b.recipe();
  EXPECT_EQ(parse_landmark_set(to_string(b.landmarks)), b.landmarks);
  EXPECT_EQ(parse_face_pick(to_string(b.pick)), b.pick);
  EXPECT_EQ(parse_no_face(to_string(NoFace::centre_crop)), NoFace::centre_crop);
  EXPECT_THROW(parse_no_face("guess"), Error);
}

TEST(FaceAligner, RecipeNamesTheDetectorAndReadsItBack) {
  AlignOptions hog, mmod;
  mmod.detector = FaceDetector::mmod;
  mmod.templ = AlignTemplate::dlib_chip;
  EXPECT_EQ(hog.recipe().rfind("dlib-hog(upsample=1,pick=centre)+", 0), 0u) << hog.recipe();
  EXPECT_EQ(mmod.recipe().rfind("dlib-mmod(upsample=1,pick=centre)+", 0), 0u) << mmod.recipe();
  EXPECT_EQ(align_options_from_recipe(mmod.recipe()).detector, FaceDetector::mmod);
  EXPECT_EQ(align_options_from_recipe(mmod.recipe()).recipe(), mmod.recipe());
  EXPECT_EQ(align_options_from_recipe(hog.recipe()).detector, FaceDetector::hog);
  EXPECT_EQ(parse_face_detector(to_string(FaceDetector::mmod)), FaceDetector::mmod);
  EXPECT_THROW(parse_face_detector("cnn"), Error);
}

TEST(FaceAligner, MissingPredictorIsNamed) {
  AlignOptions options;
  options.predictor = "/nonexistent/sp68.dat";
  try {
    FaceAligner aligner(options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/sp68.dat"), std::string::npos) << e.what();
  }
}

TEST(FaceAligner, NoFaceFallsBackToCentreCropOrFails) {
  cv::Mat blank(200, 300, CV_8UC3, cv::Scalar(120, 120, 120));
  cv::circle(blank, {150, 100}, 30, cv::Scalar(250, 0, 0), cv::FILLED);  // something at the centre
  AlignResult crop = shared_aligner().align(blank);
  EXPECT_EQ(crop.status, AlignStatus::fallback);
  EXPECT_EQ(crop.reason, "no face detected");
  EXPECT_EQ(crop.faces_found, 0);
  ASSERT_EQ(crop.face.size(), cv::Size(96, 96));
  EXPECT_EQ(crop.face.type(), CV_8UC3);
  // The centre crop keeps the centre: the red disc is in the middle of the output.
  EXPECT_EQ(crop.face.at<cv::Vec3b>(48, 48), cv::Vec3b(250, 0, 0));
  EXPECT_EQ(crop.face.at<cv::Vec3b>(2, 2), cv::Vec3b(120, 120, 120));

  AlignOptions skip;
  skip.no_face = NoFace::skip;
  AlignResult none = shared_aligner(skip).align(blank);
  EXPECT_EQ(none.status, AlignStatus::failed);
  EXPECT_TRUE(none.face.empty());
  EXPECT_EQ(none.reason, "no face detected");

  EXPECT_EQ(shared_aligner().align(cv::Mat()).status, AlignStatus::failed);
  EXPECT_EQ(shared_aligner().align(cv::Mat(10, 10, CV_8UC1, cv::Scalar(0))).status, AlignStatus::failed);
}

// Aligns, then finds the landmarks again on the aligned crop (enlarged and padded so the
// detector sees a face with context) and measures how far the eye corners are from the template.
TEST(FaceAligner, EyeCornersLandOnTheTemplateForRealLfwFaces) {
  FACE_REQUIRE_SHARED_DATA();
  const auto expected = template_points(LandmarkSet::outer_eyes_and_nose, 96);
  const std::vector<std::pair<std::string, int>> faces = {
      {"Aaron_Eckhart", 1}, {"Colin_Powell", 1}, {"Serena_Williams", 1}, {"Tony_Blair", 2}, {"George_W_Bush", 10}};
  for (const auto& [name, number] : faces) {
    AlignResult r = shared_aligner().align(lfw(name, number));
    ASSERT_EQ(r.status, AlignStatus::aligned) << name << ": " << r.reason;
    ASSERT_EQ(r.face.size(), cv::Size(96, 96));
    ASSERT_EQ(r.landmarks.size(), 3u);
    EXPECT_GT(r.faces_found, 0);
    // The source landmarks are inside the 250x250 LFW crop, eyes above the nose.
    EXPECT_LT(r.landmarks[0].x, r.landmarks[1].x);
    EXPECT_LT(r.landmarks[0].y, r.landmarks[2].y);

    const int scale = 3, pad = 96;
    cv::Mat big, canvas;
    cv::resize(r.face, big, cv::Size(96 * scale, 96 * scale), 0, 0, cv::INTER_CUBIC);
    cv::copyMakeBorder(big, canvas, pad, pad, pad, pad, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
    AlignResult again = shared_aligner().align(canvas);
    ASSERT_EQ(again.status, AlignStatus::aligned) << name << ": aligned crop not detected again";
    for (int i = 0; i < 2; ++i) {  // the outer eye corners
      cv::Point2f found((again.landmarks[i].x - pad) / scale, (again.landmarks[i].y - pad) / scale);
      EXPECT_LT(cv::norm(found - expected[i]), 2.0)
          << name << " eye corner " << i << " at " << found << ", template " << expected[i];
    }
  }
}

TEST(FaceAligner, PicksTheCentredFaceOrTheLargest) {
  FACE_REQUIRE_SHARED_DATA();
  // A 250x250 LFW face in the middle of a canvas and a larger one in its top-left corner.
  cv::Mat canvas(900, 900, CV_8UC3, cv::Scalar(90, 90, 90)), big;
  lfw("Colin_Powell", 1).copyTo(canvas(cv::Rect(325, 325, 250, 250)));
  cv::resize(lfw("Tony_Blair", 2), big, cv::Size(320, 320));
  big.copyTo(canvas(cv::Rect(0, 0, 320, 320)));
  AlignOptions centre;
  centre.upsample = 0;
  AlignOptions largest = centre;
  largest.pick = FacePick::largest;
  AlignResult c = shared_aligner(centre).align(canvas), l = shared_aligner(largest).align(canvas);
  ASSERT_EQ(c.status, AlignStatus::aligned);
  ASSERT_EQ(l.status, AlignStatus::aligned);
  EXPECT_GE(c.faces_found, 2);
  EXPECT_GT(c.landmarks[2].x, 325);  // nose tip inside the centred face
  EXPECT_LT(c.landmarks[2].x, 575);
  EXPECT_LT(l.landmarks[2].x, 320);  // nose tip inside the big corner face
  EXPECT_LT(l.landmarks[2].y, 320);
}

TEST(FaceAligner, AlignAllGivesEveryFaceOfAGroupPhotoAsAlignWouldAlignIt) {
  FACE_REQUIRE_SHARED_DATA();
  AlignOptions o;
  o.templ = AlignTemplate::dlib_chip;
  o.size = 150;
  o.pick = FacePick::largest;
  FaceAligner& aligner = shared_aligner(o);
  cv::Mat left = lfw("George_W_Bush", 5), right = lfw("Colin_Powell", 5);
  cv::Mat pair;
  cv::hconcat(left, right, pair);
  auto faces = aligner.align_all(pair);
  ASSERT_GE(faces.size(), 2u);
  bool on_left = false, on_right = false;
  for (const auto& f : faces) {
    EXPECT_EQ(f.status, AlignStatus::aligned) << f.reason;
    EXPECT_EQ(f.faces_found, static_cast<int>(faces.size()));
    EXPECT_EQ(f.face.size(), cv::Size(150, 150));
    on_left |= f.box.x + f.box.width / 2 < 250;
    on_right |= f.box.x + f.box.width / 2 >= 250;
  }
  EXPECT_TRUE(on_left && on_right);
  // align picks one of these faces and gives the same crop, pixel for pixel.
  AlignResult one = aligner.align(pair);
  ASSERT_EQ(one.status, AlignStatus::aligned);
  bool same = false;
  for (const auto& f : faces)
    if (f.box == one.box) same = cv::norm(f.face, one.face, cv::NORM_INF) == 0;
  EXPECT_TRUE(same);
}

TEST(FaceAligner, AlignAllOfNoFaceIsAnEmptyListAndBadImagesAreRefused) {
  AlignOptions o;
  o.no_face = NoFace::centre_crop;  // not applied: there is no face to crop around
  FaceAligner& aligner = shared_aligner(o);
  cv::Mat grey(120, 120, CV_8UC3, cv::Scalar(128, 128, 128));
  EXPECT_TRUE(aligner.align_all(grey).empty());
  EXPECT_THROW(aligner.align_all(cv::Mat(10, 10, CV_8UC1)), Error);
}

}  // namespace
}  // namespace face
