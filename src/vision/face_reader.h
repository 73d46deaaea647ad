// face_reader.h: an image file -> the uint8 (3, S, S) RGB face an Embedder takes.
//
// Every tool turns files into faces through this; they differ only in the framing policy, which
// is named here once:
//
//   Framing::whole        the image is the face (an aligned tree, a pack's source): resized to
//                         S x S when it is not (embed, pack; evaluate by default)
//   Framing::aligned_face the image must already be an aligned face, S x S or the model recipe's
//                         size: anything else is an error, because embedding a whole photo as a
//                         face gives a confident wrong answer (verify, identify with --aligned)
//   Framing::centre_crop  the central square, a fraction of the shorter side, then resized: a
//                         cheap stand-in for alignment on roughly centred crops such as LFW's
//                         deep-funneled images (evaluate --centre-crop)
//   Framing::align        detected and aligned by vision/face_aligner.h with `align`: its pick
//                         says which face when there are several (nearest the centre, or the
//                         largest), its no_face what happens without one (the recipe's fallback
//                         crop, counted: evaluate --align; or an error naming the file: verify
//                         and identify, which use for_model() below)
//
// Failures are VisionErrors (vision_error.h) naming the file: those of image_io.h for a file
// that cannot be read (missing, corrupt, too large), no_face when aligning finds none (and the
// recipe says to fail), not_aligned when an aligned face is not of the aligned size.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "util/progress.h"
#include "vision/face_aligner.h"
#include "vision/image_io.h"

namespace face {

enum class Framing { whole, aligned_face, centre_crop, align };

struct FaceReadOptions {
  int size = 96;                     // S: the model's input side
  Framing framing = Framing::whole;
  double centre_crop = 1;            // centre_crop: fraction of the shorter side, in (0, 1]
  AlignOptions align;                // align: the recipe (its size is the aligned face's, resized to S)
  int recipe_size = 0;               // the side the model's recipe aligns at (150 px dlib chips for a
                                     // 96 px network): such a file is an aligned face, not "resized"
  ImageReadOptions read;             // decoding limits
};

// The faces of a model's own recipe (its export's "align_recipe", AlignOptions::recipe()), as
// verify and identify read them: detected and aligned (the largest face; none is an error), or,
// with `aligned`, taken as aligned faces. An unknown recipe aligns with the OpenFace template.
// `detector` ("hog" | "mmod") replaces the recipe's face detector; "" keeps it. Either detector
// frames the face the same way for the landmarks (face_aligner.h), so the chip stays the recipe's.
FaceReadOptions faces_for_model(const std::string& model_recipe, int size, bool aligned, int upsample = 1,
                                const std::string& detector = "");

// What to tell the user when the model's recipe is one this build cannot reproduce and `options`
// align photos (necessarily with another recipe); empty when there is nothing to say.
std::string recipe_warning(const std::string& model_recipe, const FaceReadOptions& options);

struct ReadFace {
  torch::Tensor image;             // uint8 (3, size, size) RGB
  bool resized = false;            // whole / centre crop: the file was neither S nor the recipe size
  int resized_from = 0;            // whole: the side of the square it was resized from (0: not square)
  bool fell_back = false;          // align: no face found, the recipe's fallback crop was used
  std::vector<std::string> notes;  // worth a warning, each naming the file ("3 faces in ...")
  // Where the face came from, for callers that show it (deploy/serve): align only, else empty/0.
  int faces_found = 0;             // faces the detector saw (the largest or centred one is used)
  cv::Rect box;                    // the used face's detector box, source pixels (may pass the edge)
  double detector_score = 0;       // the detector's confidence in that box
  std::vector<cv::Point2f> landmarks;  // the landmarks mapped onto the template, source pixels
  cv::Mat face;                    // the framed face before resizing to S (RGB): what `image` shows
};

class FaceReader {  // one per thread: the face detector inside is not thread-safe
 public:
  explicit FaceReader(const FaceReadOptions& options);
  ~FaceReader();
  ReadFace read(const std::filesystem::path& file);
  // The same framing for an image already decoded (image_io.h decode_rgb: an upload held in
  // memory); `name` stands for the file in every message and note.
  ReadFace read_image(const RgbImage& image, const std::string& name);
  // Every face in the image, for a photo of several people (the cluster tool, serve's /v1/cluster):
  // with Framing::align each detection, in the detector's order, framed exactly as read_image
  // frames the one it picks (a face whose landmarks fail is left out, with a note); with any other
  // framing the one face read_image gives. A photo without a face gives an empty list, not an error.
  // What is worth a warning about the photo (a colour conversion, a face left out) goes to `notes`.
  std::vector<ReadFace> read_all(const RgbImage& image, const std::string& name, std::vector<std::string>& notes);
  // What is applied, for reports and warnings: the alignment recipe, or the framing's name.
  std::string recipe() const;

 private:
  FaceReadOptions options_;
  std::unique_ptr<FaceAligner> aligner_;
};

struct ReadFaces {
  torch::Tensor images;                         // uint8 (N, 3, S, S); rows that failed are zero
  std::vector<std::string> errors;              // per file: empty when read, else why not
  std::vector<std::vector<std::string>> notes;  // per file
  int64_t resized = 0, fell_back = 0;           // counts of the flags above
  // Whole framing: the one side every resized file had when all were squares of that side (an
  // aligned tree made at another size, e.g. 150 px chips for a 96 px model); 0 otherwise.
  int resized_from = 0;
  int64_t failed() const;
};

// Reads `files` in parallel (LibTorch's intra-op threads, one FaceReader each); a failure is
// recorded for its file and the others go on. `progress` (optional) advances per file.
ReadFaces read_faces(const std::vector<std::filesystem::path>& files, const FaceReadOptions& options,
                     Progress* progress = nullptr);

}  // namespace face
