#include "deploy/faces/face_source.h"

#include "data/normalisation.h"
#include "util/error.h"
#include "vision/face_aligner.h"
#include "vision/image_io.h"

namespace face {

struct FaceSource::Aligner {
  AlignOptions options;
  FaceAligner aligner;
  explicit Aligner(const AlignOptions& o) : options(o), aligner(o) {}
};

FaceSource::FaceSource(const FaceSourceOptions& options) : options_(options) {
  if (options_.size < 8 || options_.size > 4096) fail("face size {} is outside 8..4096", options_.size);
  if (options_.aligned) return;
  // The model's own recipe (its export records it), at the model's input size.
  bool known = !options_.model_recipe.empty() && options_.model_recipe != "unspecified";
  // At the recipe's own size (the training faces'), then resized to the model's input.
  AlignOptions align = known ? align_options_from_recipe(options_.model_recipe, options_.size) : AlignOptions{};
  if (!known) align.size = options_.size;
  align.upsample = options_.upsample;
  align.pick = FacePick::largest;
  align.no_face = NoFace::skip;
  aligner_ = std::make_unique<Aligner>(align);
}

FaceSource::~FaceSource() = default;

std::string FaceSource::recipe() const { return aligner_ ? aligner_->options.recipe() : "pre-aligned input"; }

LoadedFace FaceSource::load(const std::filesystem::path& path) {
  LoadedFace face;
  RgbImage image = read_rgb(path);  // names the file on any failure
  if (!image.conversion.empty()) face.warnings.push_back(fmt::format("'{}': {}", path.string(), image.conversion));
  if (options_.aligned) {
    // An aligned face is the model's input size, or its recipe's (e.g. a 150 px chip for a 96 px
    // network); anything else is a photo given as aligned, whose embedding would be a confident
    // wrong answer.
    int recipe_size = options_.model_recipe.empty() ? options_.size
                                                    : align_options_from_recipe(options_.model_recipe, options_.size).size;
    const int w = image.rgb.cols, h = image.rgb.rows;
    if (w != h || (w != options_.size && w != recipe_size))
      fail("'{}' is {}x{}, not an aligned {}x{} face (--aligned): drop --aligned to detect and align it", path.string(),
           w, h, recipe_size, recipe_size);
    face.image = to_chw_tensor(image.rgb, options_.size);
    return face;
  }
  AlignResult result = aligner_->aligner.align(image.rgb);
  if (result.status != AlignStatus::aligned)
    fail("no face found in '{}'{}", path.string(), result.reason.empty() ? "" : " (" + result.reason + ")");
  if (result.faces_found > 1)
    face.warnings.push_back(fmt::format("{} faces in '{}': using the largest", result.faces_found, path.string()));
  face.image = to_chw_tensor(result.face, options_.size);
  return face;
}

}  // namespace face
