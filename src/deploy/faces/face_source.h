// face_source.h: an image file -> one aligned face (the model's input size), ready for an Embedder.
//
// verify and identify read faces through this, so both handle bad input the same way: an
// unreadable file, or an image with no face, is a face::Error naming the file; an image with
// several faces uses the largest, with a warning.
//
//   aligned = false  the image is aligned with vision/face_aligner.h by the model's own recipe
//                    (`model_recipe`, as its export records it; the OpenFace template when
//                    unknown), with FacePick::largest and NoFace::skip (no silent centre crop
//                    when no face is found)
//   aligned = true   the image already is an aligned face (as `align` writes them); it is only
//                    resized to size x size when it is not that size
//
// One FaceSource per thread: the dlib detector inside is not thread-safe.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace face {

struct FaceSourceOptions {
  bool aligned = false;
  int upsample = 1;  // detector upsampling (small faces need more, at a cost in time)
  int size = 96;     // the model's input side (Embedder::input_size)
  std::string model_recipe;  // the model's alignment recipe (Embedder::metadata("align_recipe"))
};

struct LoadedFace {
  torch::Tensor image;                // uint8 (3, size, size) RGB
  std::vector<std::string> warnings;  // e.g. "3 faces in 'x.jpg': using the largest"
};

class FaceSource {
 public:
  explicit FaceSource(const FaceSourceOptions& options = {});
  ~FaceSource();
  LoadedFace load(const std::filesystem::path& path);
  // The alignment recipe applied (compared with the model's, which the export records).
  std::string recipe() const;

 private:
  struct Aligner;
  FaceSourceOptions options_;
  std::unique_ptr<Aligner> aligner_;
};

}  // namespace face
