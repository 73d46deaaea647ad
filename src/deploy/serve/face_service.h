// face_service.h: what the HTTP routes do, without HTTP: image bytes -> faces -> embeddings ->
// verdicts, identities and enrolments, on one model loaded once.
//
// Same semantics as the command-line tools (apps/deploy/verify.cpp, identify.cpp): faces are
// aligned by the model's own recipe (the largest face when there are several, with a warning),
// distances are squared L2 between unit embeddings, "same" / "known" means strictly below the
// threshold (the model card's unless the request gives one), and a gallery belongs to one model.
// Enrolment is stricter than the CLI in one way: a photo with several faces is refused rather
// than enrolled as the largest, since a wrong enrolment silently persists.
//
// Thread-safe: any number of request threads call it at once.
//   - Faces are detected and aligned by a pool of FaceReaders: dlib's detector is not
//     thread-safe and each holds a ~100 MB landmark model, so there are `detectors` of them (a
//     request waits for a free one), not one per request thread.
//   - Embeddings go through one EmbedBatcher (embed_batcher.h).
//   - Galleries are GalleryStores (gallery_store.h).
// Every input failure is raised before any gallery write: a RequestError with its HTTP status
// (request_error.h), or for an image or face the reader's VisionError (vision/vision_error.h),
// whose kind http_service.cpp maps to its status in one place: an enrolment reads and embeds all of its images before it stores one, and the
// store is one transaction, so a bad request leaves every gallery as it was.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deploy/gallery/gallery.h"
#include "deploy/gallery/searcher.h"
#include "deploy/serve/embed_batcher.h"
#include "deploy/serve/gallery_store.h"
#include "model/embedder.h"
#include "vision/deployed_model.h"
#include "vision/face_reader.h"
#include "vision/image_io.h"

namespace face::serve {

class Metrics;

struct GallerySpec {
  std::string name;  // as in /v1/galleries/{name}/...: letters, digits, '.', '_', '-'
  std::filesystem::path path;
};

struct ServiceOptions {
  std::string model;                   // as --model elsewhere: "" = the released model (vision/model_catalog.h)
  std::string device = "cpu";
  std::string precision = "fp32";      // auto | fp32 | bf16 (model/precision.h)
  std::optional<double> threshold;     // else the one the model records
  std::vector<GallerySpec> galleries;  // opened (created when absent) at start; the first is the default
  int detectors = 0;                   // FaceReaders for detection and alignment (0: one per core, at most 4)
  int upsample = 1;                    // detector upsampling (vision/face_aligner.h)
  std::string detector;                // "hog" | "mmod" in place of the model recipe's; "": the recipe's
  ImageReadOptions read;               // the pixel cap
  BatchOptions batching;
  int64_t max_images = 32;             // images in one enrolment or clustering request
  int64_t max_top = 100;               // candidates one identification may ask for
};

// How one request wants its images read.
struct FaceOptions {
  bool aligned = false;  // the images are aligned faces already (no detection), as `verify --aligned`
  bool single = false;   // exactly one face required: several is an error, not "the largest"
};

struct Upload {
  std::string name;   // what messages call it: the form field and file name, e.g. "a (me.jpg)"
  std::string bytes;
};

struct EmbeddedFace {
  ReadFace face;            // the aligned face, and where it was found
  torch::Tensor embedding;  // float (D), unit length
};

struct Verification {
  double distance = 0, threshold = 0;
  bool same = false;
  EmbeddedFace a, b;
  std::vector<std::string> warnings;
};

struct IdentifyResult {
  std::string gallery;
  Identification identification;  // candidates nearest first; known = nearest within the threshold
  double threshold = 0;
  int64_t people = 0;             // in the gallery snapshot searched
  EmbeddedFace face;
  std::vector<std::string> warnings;
};

struct ClusteredFace {
  std::string image;  // the upload it was found in (Upload::name)
  ReadFace face;      // aligned, with its box in that upload
};

struct ClusterResult {
  std::string method;  // deploy/cluster/cluster_method.h
  double threshold = 0;
  std::vector<ClusteredFace> faces;                           // every face found, in upload order
  std::vector<std::vector<int64_t>> clusters;                 // indices into faces, the largest cluster first
  std::vector<std::string> no_face;                           // uploads in which no face was found
  std::vector<std::pair<std::string, std::string>> unreadable;  // (upload, why): skipped, as the cluster tool skips them
  std::vector<std::string> warnings;
};

struct EnrolResult {
  std::string gallery, person;
  int64_t added = 0, images = 0;        // stored by this request; the person's total afterwards
  std::vector<std::string> duplicates;  // images the person already had (the same embedding): not stored twice
  std::vector<std::string> warnings;
};

class FaceService {
 public:
  // Loads the model, the detectors and the galleries; face::Error naming what cannot be opened.
  explicit FaceService(const ServiceOptions& options, Metrics* metrics = nullptr);
  ~FaceService();
  FaceService(const FaceService&) = delete;
  FaceService& operator=(const FaceService&) = delete;

  const Embedder& model() const { return deployed_->embedder(); }
  // What visitors are told about the model: its architecture and weights fingerprint, never the
  // path of its file on this machine (Embedder::description() has that, for the operator's log).
  std::string model_name() const;
  double threshold() const { return threshold_; }
  // What is applied to the images: the alignment recipe, or "pre-aligned input".
  std::string alignment(bool aligned) const;
  // Worth saying once at start-up (a recipe this build cannot reproduce, ...).
  const std::vector<std::string>& startup_warnings() const { return startup_warnings_; }

  std::vector<std::string> gallery_names() const;
  // "" = the default (first) gallery; RequestError 404 "unknown_gallery" for a name not served.
  GalleryStore& gallery(const std::string& name);

  EmbeddedFace embed(const Upload& image, const FaceOptions& options);
  // `threshold`, when given, overrides the model's for this request (finite, in [0, 4]).
  Verification verify(const Upload& a, const Upload& b, const FaceOptions& options, std::optional<double> threshold);
  IdentifyResult identify(const std::string& gallery, const Upload& image, const FaceOptions& options, int64_t top,
                          std::optional<double> threshold);
  // All of `images` or none; each must show exactly one face (unless aligned).
  EnrolResult enroll(const std::string& gallery, const std::string& person, const std::vector<Upload>& images,
                     const FaceOptions& options);
  // Every face of every image (a group photo gives one per person), grouped by person as the
  // cluster tool groups them (deploy/cluster/cluster_method.h): `method` "chinese-whispers" or
  // "agglomerative", cut at `threshold` or the cluster tool's default for this many faces
  // (deploy/cluster/cluster_threshold.h; the model's verification threshold when it records no
  // strict thresholds). An image that cannot be read is skipped
  // and named in `unreadable`; one without a face in `no_face`. RequestError 400 for a bad method
  // or threshold or no image, 413 for more than max_images images.
  ClusterResult cluster(const std::vector<Upload>& images, const FaceOptions& options, const std::string& method,
                        std::optional<double> threshold);
  std::vector<PersonSummary> people(const std::string& gallery);
  // RequestError 404 "unknown_person" when the gallery has no such person.
  void remove(const std::string& gallery, const std::string& person);

 private:
  class ReaderPool;
  ReadFace read(const Upload& image, const FaceOptions& options);
  double pick_threshold(std::optional<double> given) const;

  ServiceOptions options_;
  std::unique_ptr<DeployedModel> deployed_;  // the model, its threshold and its recipe's faces
  double threshold_ = 0;
  std::vector<std::pair<double, double>> far_thresholds_;  // the model's strict thresholds (clustering's default)
  std::string recipe_;
  std::vector<std::string> startup_warnings_;
  FaceReadOptions aligned_options_;
  std::unique_ptr<ReaderPool> readers_;
  std::unique_ptr<EmbedBatcher> batcher_;  // after deployed_: stopped before the model goes
  std::vector<std::unique_ptr<GalleryStore>> galleries_;
};

// A person's id as it arrives in a URL: RequestError 400 "bad_person_id" when it is empty, longer
// than 200 bytes, or not a valid name (deploy/gallery/person_name.h: invalid UTF-8, a control
// character of any script, a direction override), which gallery.h refuses too, later.
void check_person_id(const std::string& id);

// A gallery name as --gallery NAME=FILE gives it: face::Error unless 1-64 of [A-Za-z0-9._-].
void check_gallery_name(const std::string& name);

}  // namespace face::serve
