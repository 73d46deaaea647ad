#include "deploy/cluster/face_collection.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <atomic>
#include <thread>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/npy.h"
#include "vision/face_reader.h"
#include "vision/image_io.h"

namespace face {

namespace fs = std::filesystem;

namespace {

constexpr int kCacheVersion = 1;

// What one photo gave.
struct Photo {
  std::vector<torch::Tensor> images;  // uint8 (3, S, S) per face
  std::vector<CollectedFace> faces;
  std::vector<cv::Mat> crops;         // RGB, the aligned face at the recipe's size
  std::string error;
  std::vector<std::string> warnings;
};

// Every face of one photo (one face per file for aligned input), by the worker's own reader:
// dlib's detector is not thread-safe.
Photo read_photo(FaceReader& reader, const FaceReadOptions& options, const fs::path& file, bool keep_crops) {
  Photo p;
  try {
    RgbImage rgb = read_rgb(file, options.read);  // face::Error naming the file when it cannot be read
    std::vector<ReadFace> found = reader.read_all(rgb, file.string(), p.warnings);
    cv::Point2d centre(rgb.rgb.cols / 2.0, rgb.rgb.rows / 2.0);
    int64_t nearest = -1;
    double best = 0;
    for (auto& a : found) {
      CollectedFace f;
      f.box = a.box;
      f.detector_score = a.detector_score;
      f.nearest_centre = false;
      double d = cv::norm(cv::Point2d(a.box.x + a.box.width / 2.0, a.box.y + a.box.height / 2.0) - centre);
      if (nearest < 0 || d < best) nearest = static_cast<int64_t>(p.faces.size()), best = d;
      p.faces.push_back(f);
      p.images.push_back(a.image);
      if (keep_crops) p.crops.push_back(a.face);
    }
    if (nearest >= 0) p.faces[nearest].nearest_centre = true;
  } catch (const std::exception& e) {
    p.error = e.what();
  }
  return p;
}

std::string cache_key(const std::vector<fs::path>& images, const Embedder& embedder, const std::string& recipe,
                      const CollectOptions& o) {
  Fnv1a h;
  h.update(embedder.fingerprint()).update("\n").update(recipe).update("\n").update(o.crops_dir.string()).update("\n");
  for (const auto& f : images) h.update(f.string()).update("\n");
  return h.hex();
}

nlohmann::json to_json(const CollectedFace& f) {
  return {{"image", f.image}, {"box", {f.box.x, f.box.y, f.box.width, f.box.height}}, {"score", f.detector_score},
          {"nearest_centre", f.nearest_centre}, {"crop", f.crop}};
}

CollectedFace face_from_json(const nlohmann::json& j) {
  CollectedFace f;
  f.image = j.at("image").get<int64_t>();
  auto b = j.at("box");
  f.box = cv::Rect(b.at(0).get<int>(), b.at(1).get<int>(), b.at(2).get<int>(), b.at(3).get<int>());
  f.detector_score = j.at("score").get<double>();
  f.nearest_centre = j.at("nearest_centre").get<bool>();
  f.crop = j.at("crop").get<std::string>();
  return f;
}

// The state after `done` photos, atomically: the embeddings first, then the JSON that says how
// many of their rows count (a kill between the two leaves the previous JSON, which is consistent).
void save_cache(const fs::path& dir, const std::string& key, int64_t done, const FaceCollection& c,
                const std::vector<torch::Tensor>& rows) {
  fs::create_directories(dir);
  if (!rows.empty()) write_npy(dir / "embeddings.npy", torch::cat(rows));
  nlohmann::json faces = nlohmann::json::array();
  for (const auto& f : c.faces) faces.push_back(to_json(f));
  nlohmann::json unreadable = nlohmann::json::object();
  for (int64_t i = 0; i < done; ++i)
    if (!c.unreadable[i].empty()) unreadable[std::to_string(i)] = c.unreadable[i];
  nlohmann::json state{{"version", kCacheVersion}, {"key", key},          {"images_done", done},
                       {"faces", faces},           {"no_face", c.no_face}, {"unreadable", unreadable},
                       {"warnings", c.warnings}};
  write_file_atomic(dir / "faces.json", state.dump() + "\n");
}

// Loads a cache written for the same key; 0 when there is none (or another run's).
int64_t load_cache(const fs::path& dir, const std::string& key, FaceCollection& c, std::vector<torch::Tensor>& rows) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "faces.json", ec)) return 0;
  try {
    auto state = nlohmann::json::parse(read_file(dir / "faces.json"));
    if (state.at("version").get<int>() != kCacheVersion || state.at("key").get<std::string>() != key) return 0;
    for (const auto& f : state.at("faces")) c.faces.push_back(face_from_json(f));
    if (!c.faces.empty()) {
      torch::Tensor e = read_npy(dir / "embeddings.npy");
      if (e.size(0) < static_cast<int64_t>(c.faces.size())) fail("embeddings.npy has fewer rows than faces.json");
      rows.push_back(e.slice(0, 0, static_cast<int64_t>(c.faces.size())).clone());
    }
    c.no_face = state.at("no_face").get<std::vector<int64_t>>();
    for (const auto& [i, why] : state.at("unreadable").items()) c.unreadable.at(std::stoll(i)) = why.get<std::string>();
    c.warnings = state.at("warnings").get<std::vector<std::string>>();
    return state.at("images_done").get<int64_t>();
  } catch (const std::exception& e) {
    // A damaged cache is only lost work: say so and start over.
    c.faces.clear(), rows.clear(), c.no_face.clear(), c.warnings.clear();
    std::fill(c.unreadable.begin(), c.unreadable.end(), "");
    c.warnings.push_back(fmt::format("the resume state in '{}' is unusable ({}); starting over", dir.string(), e.what()));
    return 0;
  }
}

}  // namespace

FaceCollection collect_faces(const std::vector<fs::path>& images, Embedder& embedder, const CollectOptions& o,
                             Progress* progress) {
  if (o.upsample < 0 || o.upsample > 4) fail("--upsample {} is outside 0..4", o.upsample);
  if (o.threads < 1 || o.threads > 64) fail("collect_faces: threads {} is outside 1..64", o.threads);
  if (o.batch < 1) fail("--batch must be at least 1, got {}", o.batch);
  if (o.chunk < 1) fail("collect_faces: chunk must be at least 1, got {}", o.chunk);
  const int size = static_cast<int>(embedder.input_size());
  const std::string model_recipe = embedder.metadata("align_recipe");
  FaceReadOptions read = faces_for_model(model_recipe, size, o.aligned, o.upsample, o.detector);
  read.align.detector_precision = o.detector_precision;

  FaceCollection c;
  c.images = images;
  c.unreadable.assign(images.size(), "");
  c.recipe = o.aligned ? "pre-aligned input" : read.align.recipe();
  const int64_t n = static_cast<int64_t>(images.size());
  std::vector<torch::Tensor> rows;  // embeddings, one block per chunk
  const std::string key = cache_key(images, embedder, c.recipe, o);
  int64_t done = o.cache.empty() ? 0 : load_cache(o.cache, key, c, rows);
  c.resumed_images = done;
  if (progress && done > 0) progress->advance(done, "resumed");
  if (!o.crops_dir.empty()) fs::create_directories(o.crops_dir);

  // One reader per worker thread, built only when photos remain: each aligning reader loads the
  // ~100 MB landmark model.
  std::vector<std::unique_ptr<FaceReader>> workers;
  for (int64_t t = 0; done < n && t < std::min<int64_t>(o.threads, n - done); ++t)
    workers.push_back(std::make_unique<FaceReader>(read));

  while (done < n) {
    const int64_t count = std::min(o.chunk, n - done);
    std::vector<Photo> photos(static_cast<size_t>(count));
    std::atomic<int64_t> next{0};
    auto work = [&](FaceReader& reader) {
      for (int64_t i; (i = next++) < count;) photos[i] = read_photo(reader, read, images[done + i], !o.crops_dir.empty());
    };
    std::vector<std::thread> threads;
    for (size_t t = 1; t < workers.size(); ++t) threads.emplace_back(work, std::ref(*workers[t]));
    work(*workers[0]);
    for (auto& t : threads) t.join();

    std::vector<torch::Tensor> chunk_images;
    for (int64_t i = 0; i < count; ++i) {
      Photo& p = photos[i];
      const int64_t image = done + i;
      for (auto& w : p.warnings) c.warnings.push_back(std::move(w));
      if (!p.error.empty()) {
        c.unreadable[image] = p.error;
        c.warnings.push_back("skipped: " + p.error);
        continue;
      }
      if (p.faces.empty()) {
        c.no_face.push_back(image);
        c.warnings.push_back(fmt::format("no face found in '{}'", images[image].string()));
        continue;
      }
      for (size_t f = 0; f < p.faces.size(); ++f) {
        CollectedFace face = p.faces[f];
        face.image = image;
        if (!o.crops_dir.empty()) {
          fs::path name = fmt::format("{:07d}.jpg", c.faces.size());
          cv::Mat bgr;
          cv::cvtColor(p.crops[f], bgr, cv::COLOR_RGB2BGR);
          std::vector<uchar> jpeg;
          cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
          write_file_atomic(o.crops_dir / name, std::string(jpeg.begin(), jpeg.end()));
          face.crop = (o.crops_dir.filename() / name).string();
        }
        c.faces.push_back(face);
        chunk_images.push_back(p.images[f]);
      }
    }
    if (!chunk_images.empty()) rows.push_back(embedder.embed_all(torch::stack(chunk_images), o.batch));
    done += count;
    if (!o.cache.empty()) save_cache(o.cache, key, done, c, rows);
    if (progress) progress->advance(count);
  }
  c.embeddings = rows.empty() ? torch::empty({0, embedder.embedding_dim()}) : torch::cat(rows);
  return c;
}

}  // namespace face
