#include "vision/face_reader.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

#include "util/error.h"
#include "vision/vision_error.h"

namespace face {

FaceReadOptions faces_for_model(const std::string& model_recipe, int size, bool aligned, int upsample,
                                const std::string& detector) {
  FaceReadOptions o;
  o.size = size;
  const bool known = !model_recipe.empty() && model_recipe != "unspecified";
  if (known) o.recipe_size = align_options_from_recipe(model_recipe, size).size;
  if (aligned) {
    o.framing = Framing::aligned_face;
    return o;
  }
  // At the recipe's own size (the training faces'), then resized to the model's input.
  o.framing = Framing::align;
  o.align = known ? align_options_from_recipe(model_recipe, size) : AlignOptions{};
  if (!known) o.align.size = size;
  o.align.upsample = upsample;
  if (!detector.empty()) o.align.detector = parse_face_detector(detector);
  o.align.pick = FacePick::largest;
  o.align.no_face = NoFace::skip;
  return o;
}

std::string recipe_warning(const std::string& model_recipe, const FaceReadOptions& options) {
  if (options.framing != Framing::align || model_recipe.empty() || model_recipe == "unspecified" ||
      recipe_is_reproducible(model_recipe))
    return "";
  return fmt::format("the model was trained on faces aligned with '{}', which this build cannot reproduce; these "
                     "faces are aligned with '{}'",
                     model_recipe, options.align.recipe());
}

namespace {

// The checks of the reader's own options (the aligner checks its own when it is built).
void check_options(const FaceReadOptions& o) {
  if (o.size < 8 || o.size > 4096) fail("face size {} is outside 8..4096", o.size);
  if (o.framing == Framing::centre_crop && !(o.centre_crop > 0 && o.centre_crop <= 1))
    fail("centre crop {} must be in (0, 1]", o.centre_crop);
}

// Where an aligned face came from, as ReadFace reports it: the same for the one face `align`
// picks and for each face `align_all` gives.
void take_alignment(const AlignResult& aligned, ReadFace& face) {
  face.faces_found = aligned.faces_found;
  face.box = aligned.box;
  face.detector_score = aligned.detector_score;
  face.landmarks = aligned.landmarks;
}

}  // namespace

FaceReader::FaceReader(const FaceReadOptions& options) : options_(options) {
  check_options(options_);
  if (options_.framing == Framing::align) aligner_ = std::make_unique<FaceAligner>(options_.align);
}

FaceReader::~FaceReader() = default;

std::string FaceReader::recipe() const {
  switch (options_.framing) {
    case Framing::whole: return "whole image";
    case Framing::aligned_face: return "pre-aligned input";
    case Framing::centre_crop: return fmt::format("centre crop {}", options_.centre_crop);
    case Framing::align: return options_.align.recipe();
  }
  return "?";
}

ReadFace FaceReader::read(const std::filesystem::path& file) {
  return read_image(read_rgb(file, options_.read), file.string());  // read_rgb names the file on any failure
}

ReadFace FaceReader::read_image(const RgbImage& image, const std::string& name) {
  ReadFace face;
  // `file` below is what messages name: the path, or an upload's name.
  const std::filesystem::path file(name);
  if (!image.conversion.empty()) face.notes.push_back(fmt::format("'{}': {}", file.string(), image.conversion));
  cv::Mat rgb = image.rgb;
  const int s = options_.size, w = rgb.cols, h = rgb.rows;
  const bool face_sized = w == h && (w == s || w == options_.recipe_size);
  switch (options_.framing) {
    case Framing::whole:
      face.resized = !face_sized;
      if (face.resized) face.notes.push_back(fmt::format("'{}': resized from {}x{}", file.string(), w, h));
      if (face.resized && w == h) face.resized_from = w;
      break;
    case Framing::aligned_face:
      if (!face_sized) {
        int expected = options_.recipe_size > 0 ? options_.recipe_size : s;
        fail_as(VisionFailure::not_aligned,
                "'{}' is {}x{}, not an aligned {}x{} face (--aligned): drop --aligned to detect and align it",
                file.string(), w, h, expected, expected);
      }
      break;
    case Framing::centre_crop: {
      int side = std::max(1, static_cast<int>(std::lround(options_.centre_crop * std::min(w, h))));
      rgb = rgb(cv::Rect((w - side) / 2, (h - side) / 2, side, side));
      face.resized = !(side == s || side == options_.recipe_size);
      break;
    }
    case Framing::align: {
      AlignResult aligned = aligner_->align(rgb);
      if (aligned.status == AlignStatus::failed)  // NoFace::skip, or a landmark failure
        fail_as(VisionFailure::no_face, "no face found in '{}'{}", file.string(),
                aligned.reason.empty() ? "" : " (" + aligned.reason + ")");
      face.fell_back = aligned.status == AlignStatus::fallback;
      take_alignment(aligned, face);
      if (aligned.faces_found > 1 && options_.align.pick == FacePick::largest)
        face.notes.push_back(fmt::format("{} faces in '{}': using the largest", aligned.faces_found, file.string()));
      rgb = aligned.face;
      break;
    }
  }
  face.face = rgb;
  face.image = to_chw_tensor(rgb, s);
  return face;
}

std::vector<ReadFace> FaceReader::read_all(const RgbImage& image, const std::string& name,
                                           std::vector<std::string>& notes) {
  if (options_.framing != Framing::align) {
    ReadFace face = read_image(image, name);
    notes.insert(notes.end(), face.notes.begin(), face.notes.end());
    face.notes.clear();
    return {std::move(face)};
  }
  std::vector<ReadFace> faces;
  if (!image.conversion.empty()) notes.push_back(fmt::format("'{}': {}", name, image.conversion));
  for (const AlignResult& aligned : aligner_->align_all(image.rgb)) {
    if (aligned.status != AlignStatus::aligned) {
      notes.push_back(fmt::format("'{}': the face at ({}, {}) is left out: {}", name, aligned.box.x, aligned.box.y,
                                  aligned.reason));
      continue;
    }
    ReadFace face;
    take_alignment(aligned, face);
    face.face = aligned.face;
    face.image = to_chw_tensor(aligned.face, options_.size);
    faces.push_back(std::move(face));
  }
  return faces;
}

int64_t ReadFaces::failed() const {
  return std::count_if(errors.begin(), errors.end(), [](const std::string& e) { return !e.empty(); });
}

ReadFaces read_faces(const std::vector<std::filesystem::path>& files, const FaceReadOptions& options,
                     Progress* progress) {
  check_options(options);  // once, not per file; without building an aligner (its landmark model is ~100 MB)
  const int64_t n = static_cast<int64_t>(files.size());
  ReadFaces out;
  out.images = torch::zeros({n, 3, options.size, options.size}, torch::kUInt8);
  out.errors.assign(files.size(), "");
  out.notes.assign(files.size(), {});
  std::atomic<int64_t> resized{0}, fell_back{0};
  std::vector<int> resized_from(files.size(), 0);
  std::mutex progress_mutex;
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    // parallel_for hands each thread one contiguous chunk, so this is one reader per thread.
    FaceReader reader(options);
    for (int64_t i = begin; i < end; ++i) {
      try {
        ReadFace face = reader.read(files[i]);
        out.images[i].copy_(face.image);
        out.notes[i] = std::move(face.notes);
        resized += face.resized, fell_back += face.fell_back;
        if (face.resized) resized_from[i] = face.resized_from > 0 ? face.resized_from : -1;
      } catch (const std::exception& e) {
        out.errors[i] = e.what();
      }
      if (progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        progress->advance(1);
      }
    }
  });
  out.resized = resized;
  out.fell_back = fell_back;
  for (int side : resized_from) {
    if (side == 0) continue;  // read at the size asked, or failed
    if (side < 0 || (out.resized_from != 0 && side != out.resized_from)) {
      out.resized_from = 0;  // a non-square file, or two sizes: not one aligned tree
      break;
    }
    out.resized_from = side;
  }
  return out;
}

}  // namespace face
