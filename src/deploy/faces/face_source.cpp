#include "deploy/faces/face_source.h"

#include "data/normalisation.h"
#include "util/error.h"
#include "vision/image_io.h"

// The aligner is developed in parallel (vision/face_aligner.h); until it is part of the build,
// only pre-aligned input is accepted.
#if __has_include("vision/face_aligner.h")
#include "vision/face_aligner.h"
#define FACE_HAVE_ALIGNER 1
#else
#define FACE_HAVE_ALIGNER 0
#endif

namespace face {

#if FACE_HAVE_ALIGNER
struct FaceSource::Aligner {
  AlignOptions options;
  FaceAligner aligner;
  explicit Aligner(const AlignOptions& o) : options(o), aligner(o) {}
};
#else
struct FaceSource::Aligner {};
#endif

bool FaceSource::can_align() { return FACE_HAVE_ALIGNER; }

FaceSource::FaceSource(const FaceSourceOptions& options) : options_(options) {
  if (options_.aligned) return;
#if FACE_HAVE_ALIGNER
  AlignOptions align;
  align.size = static_cast<int>(kInputSize);
  align.upsample = options_.upsample;
  align.pick = FacePick::largest;
  align.no_face = NoFace::skip;
  aligner_ = std::make_unique<Aligner>(align);
#else
  fail("this build has no face aligner (vision/face_aligner.h); pass --aligned with pre-aligned 96x96 faces");
#endif
}

FaceSource::~FaceSource() = default;

std::string FaceSource::recipe() const {
#if FACE_HAVE_ALIGNER
  if (aligner_) return aligner_->options.recipe();
#endif
  return "pre-aligned input";
}

LoadedFace FaceSource::load(const std::filesystem::path& path) {
  LoadedFace face;
  RgbImage image = read_rgb(path);  // names the file on any failure
  if (!image.conversion.empty()) face.warnings.push_back(fmt::format("'{}': {}", path.string(), image.conversion));
  if (options_.aligned) {
    if (image.rgb.cols != image.rgb.rows)
      face.warnings.push_back(fmt::format("'{}' is {}x{}, not a square aligned face; resized to {}x{}", path.string(),
                                          image.rgb.cols, image.rgb.rows, kInputSize, kInputSize));
    face.image = to_chw_tensor(image.rgb, static_cast<int>(kInputSize));
    return face;
  }
#if FACE_HAVE_ALIGNER
  AlignResult result = aligner_->aligner.align(image.rgb);
  if (result.status != AlignStatus::aligned)
    fail("no face found in '{}'{}", path.string(), result.reason.empty() ? "" : " (" + result.reason + ")");
  if (result.faces_found > 1)
    face.warnings.push_back(fmt::format("{} faces in '{}': using the largest", result.faces_found, path.string()));
  face.image = to_chw_tensor(result.face, static_cast<int>(kInputSize));
#endif
  return face;
}

}  // namespace face
