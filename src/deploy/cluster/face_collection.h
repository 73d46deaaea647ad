// face_collection.h: every face in a set of photos, detected and aligned by the model's recipe
// and embedded: what the cluster tool clusters.
//
// Each photo is decoded (vision/image_io.h), and every face dlib's detector finds in it is
// aligned (vision/face_aligner.h's align_all, by the recipe the model records: vision/face_reader.h
// faces_for_model) and embedded, so a group photo gives one face per person. With `aligned`, each
// file is taken as one already aligned face instead (an `align` tree: vision/face_reader.h's
// Framing::aligned_face), which skips detection.
//
// Bad input never stops a collection: a file that cannot be read is recorded with the reason,
// and a photo without a detected face is recorded as such; both are named in `warnings`.
//
// Resumable: with a `cache` folder, the faces found so far (their embeddings, boxes and the
// photos done) are written there atomically after each chunk of photos; a later call with the
// same photos, model and recipe continues after the last chunk written instead of starting over.
#pragma once
#include <opencv2/core.hpp>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "model/embedder.h"
#include "model/precision.h"
#include "util/progress.h"

namespace face {

struct CollectedFace {
  int64_t image = 0;           // index into the photos
  cv::Rect box;                // the detector's box in source pixels (empty for aligned input)
  double detector_score = 0;
  bool nearest_centre = true;  // the face nearest its photo's centre (the labelled one in LFW-style crops)
  std::string crop;            // the saved crop, relative to crops_dir's parent ("" when not saved)
};

struct FaceCollection {
  std::vector<std::filesystem::path> images;
  std::vector<CollectedFace> faces;
  torch::Tensor embeddings;                  // float (faces, D), rows L2-normalised
  std::vector<std::string> unreadable;       // per photo: why it could not be read, "" when it could
  std::vector<int64_t> no_face;              // photos in which no face was found
  std::vector<std::string> warnings;         // each naming its photo
  int64_t resumed_images = 0;                // photos taken from the cache rather than read again
  std::string recipe;                        // how faces were framed
};

struct CollectOptions {
  bool aligned = false;                 // each file is one aligned face (no detection)
  int upsample = 1;                     // the detector's upsampling (0..4): 1 finds faces down to ~40 px
  std::string detector;                 // "hog" | "mmod" in place of the model recipe's; "": the recipe's
  Precision detector_precision = Precision::fp32;  // mmod's network (vision/mmod_detector.h)
  int threads = 1;                      // photos decoded and aligned at once (one aligner each, ~100 MB)
  int64_t batch = 64;                   // faces per forward pass
  int64_t chunk = 256;                  // photos between cache writes
  std::filesystem::path crops_dir;      // when set: face i's crop is written there as NNNNNNN.jpg
  std::filesystem::path cache;          // when set: resume state (see above)
};

// requires: options in range (face::Error naming the option otherwise).
// ensures: faces in photo order (within a photo, in the detector's order), embeddings row i for
// face i. `progress` (optional) advances once per photo.
FaceCollection collect_faces(const std::vector<std::filesystem::path>& images, Embedder& embedder,
                             const CollectOptions& options, Progress* progress = nullptr);

}  // namespace face
