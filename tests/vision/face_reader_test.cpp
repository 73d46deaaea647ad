// FaceReader: each framing policy once (whole, aligned face, centre crop, align with each no-face
// policy), the policy verify and identify use for a model, and read_faces keeping going past a
// bad file. The tools' own tests check what each of them prints.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_support.h"
#include "util/error.h"
#include "vision/face_reader.h"

namespace face {
namespace {

std::filesystem::path write_colour(const std::filesystem::path& p, int w, int h, cv::Scalar bgr) {
  std::filesystem::create_directories(p.parent_path());
  EXPECT_TRUE(cv::imwrite(p.string(), cv::Mat(h, w, CV_8UC3, bgr)));
  return p;
}

std::filesystem::path lfw_image() { return test::shared_data() / "lfw/deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"; }

TEST(FaceReader, WholeImageIsResizedAndSaysSo) {
  test::TempDir dir;
  FaceReader reader(FaceReadOptions{});
  ReadFace small = reader.read(write_colour(dir / "a.png", 120, 150, {0, 0, 255}));
  EXPECT_EQ(small.image.sizes(), (std::vector<int64_t>{3, 96, 96}));
  EXPECT_EQ(small.image[0][48][48].item<int>(), 255);  // red, in RGB order
  EXPECT_TRUE(small.resized);
  ASSERT_EQ(small.notes.size(), 1u);
  EXPECT_NE(small.notes[0].find("resized from 120x150"), std::string::npos) << small.notes[0];
  EXPECT_FALSE(reader.read(write_colour(dir / "b.png", 96, 96, {0, 0, 255})).resized);
  EXPECT_THROW(reader.read(dir / "missing.png"), Error);
}

TEST(FaceReader, AlignedFaceMustHaveTheModelsOrItsRecipesSize) {
  test::TempDir dir;
  FaceReadOptions o;
  o.framing = Framing::aligned_face;
  o.recipe_size = 150;
  FaceReader reader(o);
  EXPECT_NO_THROW(reader.read(write_colour(dir / "a.png", 96, 96, {1, 2, 3})));
  ReadFace chip = reader.read(write_colour(dir / "b.png", 150, 150, {1, 2, 3}));
  EXPECT_FALSE(chip.resized);
  EXPECT_EQ(chip.image.size(1), 96);
  try {
    reader.read(write_colour(dir / "photo.png", 250, 200, {1, 2, 3}));
    FAIL() << "a photo was taken as an aligned face";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("photo.png' is 250x200, not an aligned 150x150 face"), std::string::npos)
        << e.what();
  }
}

TEST(FaceReader, CentreCropKeepsTheCentralSquare) {
  test::TempDir dir;
  // 300 x 100: blue left and right thirds, a green centre square of 100 x 100.
  cv::Mat img(100, 300, CV_8UC3, cv::Scalar(255, 0, 0));
  img(cv::Rect(100, 0, 100, 100)).setTo(cv::Scalar(0, 255, 0));
  ASSERT_TRUE(cv::imwrite((dir / "wide.png").string(), img));
  FaceReadOptions o;
  o.framing = Framing::centre_crop;
  o.centre_crop = 1.0;  // the whole shorter side: exactly the green square
  ReadFace face = FaceReader(o).read(dir / "wide.png");
  EXPECT_EQ(face.image.select(0, 2).max().item<int>(), 0);  // no blue left in it
  EXPECT_EQ(face.image.select(0, 1).min().item<int>(), 255);
  EXPECT_TRUE(face.resized);  // 100 px -> 96 px
  o.centre_crop = 0;
  EXPECT_THROW(FaceReader{o}, Error);
}

TEST(FaceReader, AlignFindsTheFaceOrFollowsTheNoFacePolicy) {
  FACE_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  auto blank = write_colour(dir / "blank.png", 200, 200, {128, 128, 128});
  // verify / identify: the model's recipe, the largest face, none is an error naming the file.
  FaceReadOptions strict = faces_for_model("", 96, /*aligned=*/false);
  EXPECT_EQ(strict.framing, Framing::align);
  EXPECT_EQ(strict.align.no_face, NoFace::skip);
  EXPECT_EQ(strict.align.pick, FacePick::largest);
  FaceReader reader(strict);
  ReadFace face = reader.read(lfw_image());
  EXPECT_FALSE(face.fell_back);
  EXPECT_GT(face.image.to(torch::kFloat).std().item<double>(), 10);  // a picture, not a blank
  try {
    reader.read(blank);
    FAIL() << "a blank image gave a face";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no face found in '" + blank.string()), std::string::npos) << e.what();
  }
  // evaluate --align: the recipe's centre-crop fallback instead, counted.
  FaceReadOptions lenient;
  lenient.framing = Framing::align;
  ReadFaces read = read_faces({lfw_image(), blank}, lenient);
  EXPECT_EQ(read.failed(), 0);
  EXPECT_EQ(read.fell_back, 1);
  // A model's recipe gives its chip size as the size of aligned faces; --aligned takes them as they are.
  FaceReadOptions chip = faces_for_model("dlib-chip(padding=0.25)@150x150", 96, /*aligned=*/true);
  EXPECT_EQ(chip.framing, Framing::aligned_face);
  EXPECT_EQ(chip.recipe_size, 150);
}

// verify, identify, cluster and serve take --detector in place of the model recipe's: the same
// recipe otherwise, and on a real photo the same face, the chip's landmarks within a few pixels.
TEST(FaceReader, ADetectorInPlaceOfTheRecipesFramesTheSameFace) {
  FACE_REQUIRE_SHARED_DATA();
  const std::string recipe = "dlib-chip(padding=0.25)@150x150";
  FaceReadOptions hog = faces_for_model(recipe, 96, /*aligned=*/false);
  FaceReadOptions mmod = faces_for_model(recipe, 96, /*aligned=*/false, /*upsample=*/0, "mmod");
  EXPECT_EQ(hog.align.detector, FaceDetector::hog);
  EXPECT_EQ(mmod.align.detector, FaceDetector::mmod);
  EXPECT_EQ(mmod.align.upsample, 0);
  EXPECT_EQ(mmod.align.templ, hog.align.templ);
  EXPECT_EQ(mmod.align.size, hog.align.size);
  // A recipe that names MMOD is overridden back to HOG the same way; "" keeps the recipe's.
  AlignOptions by_mmod = hog.align;
  by_mmod.detector = FaceDetector::mmod;
  EXPECT_EQ(faces_for_model(by_mmod.recipe(), 96, false).align.detector, FaceDetector::mmod);
  EXPECT_EQ(faces_for_model(by_mmod.recipe(), 96, false, 1, "hog").align.detector, FaceDetector::hog);
  EXPECT_THROW(faces_for_model(recipe, 96, false, 1, "haar"), Error);

  ReadFace a = FaceReader(hog).read(lfw_image()), b = FaceReader(mmod).read(lfw_image());
  ASSERT_EQ(a.landmarks.size(), b.landmarks.size());
  ASSERT_FALSE(a.landmarks.empty());
  double worst = 0;
  for (size_t i = 0; i < a.landmarks.size(); ++i)
    worst = std::max(worst, static_cast<double>(cv::norm(a.landmarks[i] - b.landmarks[i])));
  EXPECT_LT(worst, 4.0) << "landmarks (source pixels) moved by up to " << worst;
  // The boxes are each detector's own (MMOD's is tighter), the faces the same.
  const double overlap = (a.box & b.box).area() / static_cast<double>((a.box | b.box).area());
  EXPECT_GT(overlap, 0.5);
  const double diff = (a.image.to(torch::kFloat) - b.image.to(torch::kFloat)).abs().mean().item<double>();
  EXPECT_LT(diff, 20) << "mean absolute pixel difference of the two 96 px faces";
}

TEST(FaceReader, ReadFacesRecordsEachFailureAndKeepsTheRest) {
  test::TempDir dir;
  auto good = write_colour(dir / "good.png", 96, 96, {0, 255, 0});
  test::write_text(dir / "bad.jpg", "not a jpeg");
  auto big = write_colour(dir / "big.png", 130, 130, {0, 255, 0});
  ReadFaces read = read_faces({good, dir / "bad.jpg", big}, FaceReadOptions{});
  EXPECT_EQ(read.failed(), 1);
  EXPECT_TRUE(read.errors[0].empty());
  EXPECT_NE(read.errors[1].find("bad.jpg"), std::string::npos) << read.errors[1];
  EXPECT_EQ(read.images[1].max().item<int>(), 0);  // the failed row stays zero
  EXPECT_EQ(read.images[2].select(0, 1).min().item<int>(), 255);
  EXPECT_EQ(read.resized, 1);
}

}  // namespace
}  // namespace face
