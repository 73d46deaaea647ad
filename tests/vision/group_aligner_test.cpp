// GroupAligner::align_all, every face of a photo (the cluster tool's group photos): it finds both
// people of a side-by-side pair, each aligned exactly as FaceAligner::align aligns the face it picks, and
// nothing in a blank image.
#include <opencv2/imgproc.hpp>

#include "test_support.h"
#include "util/error.h"
#include "vision/face_aligner.h"
#include "vision/group_aligner.h"
#include "vision/image_io.h"

namespace face {
namespace {

cv::Mat lfw_photo(const std::string& name, int number) {
  auto path = test::shared_data() / "lfw/deepfunneled" / name / cv::format("%s_%04d.jpg", name.c_str(), number);
  return read_rgb(path).rgb;
}

TEST(GroupAligner, EveryFaceOfAGroupPhotoAsAlignWouldAlignIt) {
  FACE_REQUIRE_SHARED_DATA();
  AlignOptions o;
  o.templ = AlignTemplate::dlib_chip;
  o.size = 150;
  o.pick = FacePick::largest;
  GroupAligner group(o);
  FaceAligner aligner(o);
  cv::Mat left = lfw_photo("George_W_Bush", 5), right = lfw_photo("Colin_Powell", 5);
  cv::Mat pair;
  cv::hconcat(left, right, pair);
  auto faces = group.align_all(pair);
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
  // FaceAligner::align picks one of these faces and gives the same crop, pixel for pixel.
  AlignResult one = aligner.align(pair);
  ASSERT_EQ(one.status, AlignStatus::aligned);
  bool same = false;
  for (const auto& f : faces)
    if (f.box == one.box) same = cv::norm(f.face, one.face, cv::NORM_INF) == 0;
  EXPECT_TRUE(same);
}

TEST(GroupAligner, NoFaceIsAnEmptyListAndBadImagesAreRefused) {
  AlignOptions o;
  o.no_face = NoFace::centre_crop;  // not applied: there is no face to crop around
  GroupAligner aligner(o);
  cv::Mat grey(120, 120, CV_8UC3, cv::Scalar(128, 128, 128));
  EXPECT_TRUE(aligner.align_all(grey).empty());
  EXPECT_THROW(aligner.align_all(cv::Mat(10, 10, CV_8UC1)), Error);
}

}  // namespace
}  // namespace face
