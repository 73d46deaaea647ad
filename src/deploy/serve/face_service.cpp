#include "deploy/serve/face_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "deploy/cluster/cluster_method.h"
#include "deploy/cluster/cluster_threshold.h"
#include "deploy/cluster/neighbour_graph.h"
#include "deploy/gallery/model_binding.h"
#include "deploy/gallery/person_name.h"
#include "deploy/serve/request_error.h"
#include "eval/cluster_labels.h"
#include "util/error.h"
#include "vision/face_aligner.h"
#include "vision/vision_error.h"

namespace face::serve {

void check_person_id(const std::string& id) {
  if (id.empty()) reject(400, "bad_person_id", "a person needs a non-empty id");
  if (id.size() > 200) reject(400, "bad_person_id", "person id of {} bytes is longer than 200", id.size());
  if (std::string problem = person_name_problem(id); !problem.empty())
    reject(400, "bad_person_id", "person id {}", problem);
}

void check_gallery_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  if (!ok) fail("gallery name '{}' must be 1-64 letters, digits, '.', '_' or '-'", name);
}

// FaceReaders lent to request threads one at a time (a dlib detector is not thread-safe).
class FaceService::ReaderPool {
 public:
  ReaderPool(const FaceReadOptions& options, int size) {
    for (int i = 0; i < size; ++i) readers_.push_back(std::make_unique<FaceReader>(options));
    for (auto& r : readers_) free_.push_back(r.get());
  }

  template <class Use>
  auto with_reader(Use&& use) -> decltype(use(std::declval<FaceReader&>())) {
    FaceReader* reader = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      available_.wait(lock, [&] { return !free_.empty(); });
      reader = free_.back();
      free_.pop_back();
    }
    struct GiveBack {  // also when `use` throws (no face)
      ReaderPool& pool;
      FaceReader* reader;
      ~GiveBack() {
        {
          std::lock_guard<std::mutex> lock(pool.mutex_);
          pool.free_.push_back(reader);
        }
        pool.available_.notify_one();
      }
    } give_back{*this, reader};
    return use(*reader);
  }

 private:
  std::vector<std::unique_ptr<FaceReader>> readers_;
  std::vector<FaceReader*> free_;
  std::mutex mutex_;
  std::condition_variable available_;
};

FaceService::FaceService(const ServiceOptions& options, Metrics* metrics) : options_(options) {
  if (options_.galleries.empty()) fail("no gallery to serve");
  if (options_.max_images < 1 || options_.max_top < 1) fail("max images and max top must be at least 1");
  DeployedModelOptions m;
  m.model = options_.model, m.device = options_.device, m.precision = options_.precision;
  m.threshold = options_.threshold, m.upsample = options_.upsample, m.read = options_.read;
  m.detector = options_.detector;
  deployed_ = std::make_unique<DeployedModel>(m);
  threshold_ = deployed_->threshold();  // a model without one is refused at start-up
  far_thresholds_ = deployed_->far_thresholds();
  // Photos are aligned by the model's recipe in a pool of readers (each holds a detector);
  // requests that say aligned=true are read without one.
  FaceReadOptions align = deployed_->read_options(/*aligned=*/false);
  aligned_options_ = deployed_->read_options(/*aligned=*/true);
  recipe_ = align.align.recipe();
  startup_warnings_ = deployed_->warnings();
  int detectors = options_.detectors > 0
                      ? options_.detectors
                      : std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 4);
  readers_ = std::make_unique<ReaderPool>(align, detectors);
  batcher_ = std::make_unique<EmbedBatcher>(deployed_->embedder(), options_.batching, metrics);
  std::set<std::string> names;
  for (const auto& g : options_.galleries) {
    check_gallery_name(g.name);
    if (!names.insert(g.name).second) fail("gallery name '{}' is given twice", g.name);
    galleries_.push_back(std::make_unique<GalleryStore>(g.name, g.path, gallery_model(model())));
  }
}

FaceService::~FaceService() = default;

std::string FaceService::model_name() const {
  std::string arch = model().metadata("arch");
  // The fingerprint's first 12 characters tell weights apart; /healthz gives it whole.
  return fmt::format("{} (weights {})", arch.empty() ? "TorchScript model" : arch, model().fingerprint().substr(0, 12));
}

std::string FaceService::alignment(bool aligned) const { return aligned ? "pre-aligned input" : recipe_; }

std::vector<std::string> FaceService::gallery_names() const {
  std::vector<std::string> names;
  for (const auto& g : galleries_) names.push_back(g->name());
  return names;
}

GalleryStore& FaceService::gallery(const std::string& name) {
  if (name.empty()) return *galleries_.front();
  for (auto& g : galleries_)
    if (g->name() == name) return *g;
  reject(404, "unknown_gallery", "no gallery '{}' on this server (it serves: {})", name,
         fmt::join(gallery_names(), ", "));
}

double FaceService::pick_threshold(std::optional<double> given) const {
  if (!given) return threshold_;
  if (!std::isfinite(*given) || *given < 0 || *given > 4)
    reject(400, "bad_parameter", "threshold must be a finite number in [0, 4] (squared L2), got {}", *given);
  return *given;
}

ReadFace FaceService::read(const Upload& image, const FaceOptions& options) {
  // Failures are VisionErrors (too large: the pixel cap is checked from the header before any
  // pixel is decoded; undecodable; no face; not aligned), answered by http_service.cpp.
  RgbImage rgb = decode_rgb(image.bytes, image.name, options_.read);
  ReadFace face;
  if (options.aligned) {
    FaceReader reader(aligned_options_);  // no detector inside: cheap, one per call
    face = reader.read_image(rgb, image.name);
  } else {
    face = readers_->with_reader([&](FaceReader& reader) { return reader.read_image(rgb, image.name); });
  }
  if (options.single && face.faces_found > 1)
    reject(422, "several_faces", "image '{}' shows {} faces where one is needed: crop it to the one person",
           image.name, face.faces_found);
  return face;
}

EmbeddedFace FaceService::embed(const Upload& image, const FaceOptions& options) {
  EmbeddedFace out;
  out.face = read(image, options);
  out.embedding = batcher_->embed(out.face.image.unsqueeze(0))[0];
  return out;
}

Verification FaceService::verify(const Upload& a, const Upload& b, const FaceOptions& options,
                                 std::optional<double> threshold) {
  Verification v;
  v.threshold = pick_threshold(threshold);  // a bad override is refused before any work
  // The two detections run side by side (two readers of the pool, when it has two): on two
  // cores that is most of a lone request's latency.
  std::future<ReadFace> second = std::async(std::launch::async, [&] { return read(b, options); });
  v.a.face = read(a, options);
  v.b.face = second.get();
  torch::Tensor e = batcher_->embed(torch::stack({v.a.face.image, v.b.face.image}));
  v.a.embedding = e[0];
  v.b.embedding = e[1];
  const PairVerdict verdict = verify_pair(e[0], e[1], v.threshold);  // the verdict every tool gives
  v.distance = verdict.distance;
  v.same = verdict.same;
  for (const auto* f : {&v.a.face, &v.b.face}) v.warnings.insert(v.warnings.end(), f->notes.begin(), f->notes.end());
  return v;
}

IdentifyResult FaceService::identify(const std::string& gallery_name, const Upload& image, const FaceOptions& options,
                                     int64_t top, std::optional<double> threshold) {
  GalleryStore& store = gallery(gallery_name);  // an unknown gallery is refused before any work
  if (top < 1 || top > options_.max_top)
    reject(400, "bad_parameter", "top must be between 1 and {}, got {}", options_.max_top, top);
  IdentifyResult r;
  r.gallery = store.name();
  r.threshold = pick_threshold(threshold);
  r.face = embed(image, options);
  r.warnings = r.face.face.notes;
  std::shared_ptr<const Searcher> searcher = store.searcher();
  r.people = searcher->people();
  if (r.people == 0) {
    r.warnings.push_back(fmt::format("gallery '{}' is empty: nobody can be recognised", store.name()));
    return r;  // unknown, no candidates
  }
  r.identification = searcher->identify(r.face.embedding.unsqueeze(0), top, r.threshold)[0];
  return r;
}

EnrolResult FaceService::enroll(const std::string& gallery_name, const std::string& person,
                                const std::vector<Upload>& images, const FaceOptions& options) {
  check_person_id(person);
  GalleryStore& store = gallery(gallery_name);
  if (images.empty()) reject(400, "no_image", "enrolling '{}' needs at least one image", person);
  if (static_cast<int64_t>(images.size()) > options_.max_images)
    reject(413, "too_many_images", "{} images in one enrolment, over this server's {}: send them in several requests",
           images.size(), options_.max_images);
  FaceOptions one = options;
  one.single = true;
  // Every image is read before anything is written: one bad image refuses the whole request.
  std::vector<torch::Tensor> faces;
  std::vector<std::string> sources;
  EnrolResult r;
  for (const auto& image : images) {
    ReadFace face = read(image, one);
    faces.push_back(face.image);
    sources.push_back("http:" + image.name);
    r.warnings.insert(r.warnings.end(), face.notes.begin(), face.notes.end());
  }
  torch::Tensor embeddings = batcher_->embed(torch::stack(faces));
  r.gallery = store.name();
  r.person = person;
  r.images = store.enroll(person, sources, embeddings, &r.duplicates);  // one transaction
  r.added = static_cast<int64_t>(images.size() - r.duplicates.size());
  return r;
}

ClusterResult FaceService::cluster(const std::vector<Upload>& images, const FaceOptions& options,
                                   const std::string& method_name, std::optional<double> threshold) {
  ClusterResult r;
  ClusterMethod method = ClusterMethod::chinese_whispers;
  try {
    method = parse_cluster_method(method_name);
  } catch (const Error& e) {
    reject(400, "bad_parameter", "method: {}", e.what());
  }
  r.method = to_string(method);
  r.threshold = pick_threshold(threshold);  // a bad override is refused before any work
  if (images.empty()) reject(400, "no_image", "clustering needs at least one image");
  if (static_cast<int64_t>(images.size()) > options_.max_images)
    reject(413, "too_many_images", "{} images in one clustering request, over this server's {}", images.size(),
           options_.max_images);

  // Each photo on its own thread, holding a reader of the pool while it detects (as many photos
  // at once as the pool has readers); a photo that cannot be read is skipped, not the request.
  struct Photo {
    std::vector<ReadFace> faces;
    std::vector<std::string> notes;
    std::string error;
  };
  auto read_photo = [&](const Upload& image) {
    Photo p;
    try {
      RgbImage rgb = decode_rgb(image.bytes, image.name, options_.read);
      if (options.aligned) {
        FaceReader reader(aligned_options_);
        p.faces = reader.read_all(rgb, image.name, p.notes);
      } else {
        p.faces = readers_->with_reader([&](FaceReader& reader) { return reader.read_all(rgb, image.name, p.notes); });
      }
    } catch (const VisionError& e) {
      p.error = e.what();
    }
    return p;
  };
  std::vector<std::future<Photo>> pending;
  for (const auto& image : images) pending.push_back(std::async(std::launch::async, read_photo, std::cref(image)));
  std::vector<torch::Tensor> rows;
  for (size_t i = 0; i < images.size(); ++i) {
    Photo p = pending[i].get();
    r.warnings.insert(r.warnings.end(), p.notes.begin(), p.notes.end());
    if (!p.error.empty()) {
      r.unreadable.push_back({images[i].name, p.error});
      r.warnings.push_back(fmt::format("'{}' skipped: {}", images[i].name, p.error));
    } else if (p.faces.empty()) {
      r.no_face.push_back(images[i].name);
    }
    for (auto& face : p.faces) {
      rows.push_back(face.image);
      r.faces.push_back({images[i].name, std::move(face)});
    }
  }
  if (r.faces.empty()) return r;
  // Without an override, the cluster tool's default: the model's distance at FAR 0.1 / faces
  // (deploy/cluster/cluster_threshold.h); a model without strict thresholds keeps its verification one.
  if (!threshold && !far_thresholds_.empty())
    r.threshold = default_cluster_threshold(far_thresholds_, static_cast<int64_t>(r.faces.size())).threshold;
  torch::Tensor embeddings = batcher_->embed(torch::stack(rows));
  NeighbourGraphOptions graph;
  graph.index = "flat";  // a request's few faces: the exact scan
  ChineseWhispersOptions cut;
  cut.threshold = r.threshold;
  r.clusters = clusters_by_size(cluster_graph(build_neighbour_graph(embeddings, graph), method, cut));
  return r;
}

std::vector<PersonSummary> FaceService::people(const std::string& gallery_name) {
  return gallery(gallery_name).list();
}

void FaceService::remove(const std::string& gallery_name, const std::string& person) {
  GalleryStore& store = gallery(gallery_name);
  if (!store.remove(person)) reject(404, "unknown_person", "no person '{}' in gallery '{}'", person, store.name());
}

}  // namespace face::serve
