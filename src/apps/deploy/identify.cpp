// identify: 1:K recognition against a persistent gallery (an SQLite file; deploy/gallery/gallery.h).
//
//   identify [--gallery gallery.db] [--model model.pt] [--aligned] [--detector hog|mmod] [--upsample N] [--device D] [--threads N]
//            SUBCOMMAND
//     enroll NAME IMAGE...        add the images to NAME (one transaction: all or nothing)
//     enroll-dir DIR              one sub-folder per person, named after the person; people
//                                 already in the gallery are skipped (so a re-run resumes)
//     query IMAGE [--top K] [--threshold T] [--index exact|faiss] [--json]
//     list
//     remove NAME
//
// query prints the nearest people and their squared L2 distances, or "unknown" when even the
// nearest is farther than the threshold (--threshold, else the one the exported model records).
// Exit status of query: 0 known person, 1 unknown, 2 error; of the others: 0 done, 2 error.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <torch/torch.h>

#include "apps/cli_checks.h"
#include "deploy/gallery/model_binding.h"
#include "deploy/gallery/searcher.h"
#include "vision/deployed_model.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/threads.h"
#include "vision/image_io.h"

namespace fs = std::filesystem;

namespace {

struct Common {
  std::string gallery = "gallery.db", model, device = "cpu", precision = "fp32", detector;
  bool aligned = false;
  int threads = 0, upsample = 1;
  int64_t batch = 32;
};

// The model, as every subcommand that embeds opens it.
face::DeployedModel open_model(const Common& c, std::optional<double> threshold = std::nullopt) {
  face::configure_threads(c.threads);
  face::DeployedModelOptions options;
  options.model = c.model, options.device = c.device, options.precision = c.precision, options.aligned = c.aligned;
  options.detector = c.detector, options.upsample = c.upsample;
  options.threshold = threshold;
  return face::DeployedModel(options);
}

// Embeds `files`; a file that fails is an error (strict) or a warning that drops it.
torch::Tensor embed_files(face::DeployedModel& model, std::vector<std::string>& files, bool strict, int64_t batch) {
  std::vector<torch::Tensor> images;
  std::vector<std::string> kept;
  for (const auto& f : files) {
    try {
      face::ReadFace loaded = model.faces().read(f);
      for (const auto& w : loaded.notes) fmt::print(stderr, "warning: {}\n", w);
      images.push_back(loaded.image);
      kept.push_back(f);
    } catch (const face::Error& e) {
      if (strict) throw;
      fmt::print(stderr, "warning: skipped: {}\n", e.what());
    }
  }
  files = kept;
  if (images.empty()) return torch::empty({0, model.embedder().embedding_dim()});
  return model.embedder().embed_all(torch::stack(images), batch);
}

int enroll(const Common& c, const std::string& name, std::vector<std::string> images) {
  face::DeployedModel model = open_model(c);
  face::Gallery gallery(c.gallery, face::gallery_model(model.embedder()));
  torch::Tensor e = embed_files(model, images, /*strict=*/true, c.batch);
  std::vector<std::string> duplicates;
  int64_t total = gallery.enroll(name, images, e, &duplicates);
  for (const auto& d : duplicates)
    fmt::print(stderr, "warning: '{}' is an image '{}' already has (the same embedding): kept once\n", d, name);
  fmt::print("enrolled {} image(s) of '{}' ({} in all) into {}\n", images.size() - duplicates.size(), name, total,
             c.gallery);
  return 0;
}

int enroll_dir(const Common& c, const std::string& dir) {
  if (!fs::is_directory(dir)) face::fail("enroll-dir: '{}' is not a directory", dir);
  face::DeployedModel model = open_model(c);
  face::Gallery gallery(c.gallery, face::gallery_model(model.embedder()));
  std::vector<fs::path> people;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) people.push_back(entry.path());
  std::sort(people.begin(), people.end());
  if (people.empty()) face::fail("enroll-dir: '{}' has no sub-folders (expected one per person)", dir);
  int64_t enrolled = 0, images_total = 0, skipped = 0;
  face::Progress progress("enroll", static_cast<int64_t>(people.size()));
  int64_t already = 0;
  for (const auto& person : people) {
    // Re-running after an interruption resumes: people already present are complete (each was
    // one transaction), so they are left as they are.
    if (gallery.contains(person.filename().string())) {
      ++already;
      progress.advance();
      continue;
    }
    std::vector<std::string> warnings, files;
    for (const auto& f : face::list_images(person, &warnings)) files.push_back(f.string());
    for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
    size_t listed = files.size();
    torch::Tensor e = embed_files(model, files, /*strict=*/false, c.batch);
    skipped += static_cast<int64_t>(listed - files.size());
    if (files.empty()) {
      fmt::print(stderr, "warning: '{}' has no usable image; not enrolled\n", person.string());
    } else {
      std::vector<std::string> duplicates;
      gallery.enroll(person.filename().string(), files, e, &duplicates);  // one transaction per person
      for (const auto& d : duplicates) fmt::print(stderr, "warning: '{}' repeats an image of the same person: kept once\n", d);
      ++enrolled;
      images_total += static_cast<int64_t>(files.size());
    }
    progress.advance();
  }
  progress.finish();
  fmt::print("enrolled {} people ({} images, {} images skipped, {} people already present) into {}\n", enrolled,
             images_total, skipped, already, c.gallery);
  return 0;
}

int query(const Common& c, std::string image, int64_t top, std::optional<double> threshold, const std::string& index,
          const face::FaissOptions& faiss, bool json) {
  face::DeployedModel model = open_model(c, threshold);
  face::Gallery gallery(c.gallery);
  gallery.require_model(face::gallery_model(model.embedder()));
  double t = model.threshold();
  std::vector<std::string> files = {image};
  torch::Tensor e = embed_files(model, files, /*strict=*/true, c.batch);
  face::Searcher searcher(gallery, face::make_index(index, torch::Device(c.device), faiss));
  if (searcher.people() == 0) face::fail("gallery '{}' is empty: enrol someone first", c.gallery);
  face::Identification id = searcher.identify(e, top, t)[0];
  if (json) {
    nlohmann::json candidates = nlohmann::json::array();
    for (const auto& cand : id.candidates) candidates.push_back({{"name", cand.name}, {"distance", cand.distance}});
    fmt::print("{}\n", nlohmann::json{{"image", image},
                                      {"identity", id.known ? id.candidates[0].name : "unknown"},
                                      {"known", id.known},
                                      {"threshold", t},
                                      {"candidates", candidates},
                                      {"index", searcher.index().name()}}
                           .dump());
  } else {
    fmt::print("{}\n", id.known ? id.candidates[0].name : "unknown");
    for (size_t i = 0; i < id.candidates.size(); ++i)
      fmt::print("  {}. {} {:.4f}\n", i + 1, id.candidates[i].name, id.candidates[i].distance);
    fmt::print("(squared L2 distance; threshold {:.4f}; {} people in gallery; {})\n", t, searcher.people(),
               searcher.index().name());
  }
  return id.known ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"1:K face identification against a persistent gallery"};
  app.require_subcommand(1);
  app.fallthrough();
  Common c;
  app.add_option("--gallery", c.gallery, "gallery database file")->capture_default_str();
  app.add_option("--model", c.model, "exported model, checkpoint or 'dlib-resnet' (default: the released model)");
  app.add_flag("--aligned", c.aligned, "images are already aligned 96x96 faces (skip detection)");
  app.add_option("--device", c.device, "cpu or cuda[:N] (embedding and exact search)")->capture_default_str();
  face::cli::add_precision(app, c.precision);
  face::cli::add_detector(app, c.detector);
  face::cli::add_upsample(app, c.upsample);
  app.add_option("--threads", c.threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());

  std::string name, dir, image, index = "exact";
  std::vector<std::string> images;
  int64_t top = 5;
  double threshold = 0;
  bool json = false;
  face::FaissOptions faiss;
  auto* enroll_cmd = app.add_subcommand("enroll", "enrol images of one person");
  enroll_cmd->add_option("NAME", name, "the person's name")->required();
  enroll_cmd->add_option("IMAGE", images, "image files")->required();
  auto* dir_cmd = app.add_subcommand("enroll-dir", "enrol every sub-folder of DIR as one person");
  dir_cmd->add_option("DIR", dir, "folder of per-person folders")->required();
  auto* query_cmd = app.add_subcommand("query", "who is in IMAGE?");
  query_cmd->add_option("IMAGE", image, "image file")->required();
  query_cmd->add_option("--top", top, "candidates to list")->capture_default_str()->check(CLI::Range(1, 100000));
  auto* t = query_cmd->add_option("--threshold", threshold, "squared L2 distance beyond which the face is unknown")->check(face::cli::finite(0, 4));
  query_cmd->add_option("--index", index, "exact or faiss")->capture_default_str();
  query_cmd->add_option("--nprobe", faiss.nprobe, "faiss: cells visited per query")->capture_default_str()->check(CLI::Range(1, 65536));
  query_cmd->add_flag("--json", json, "print one JSON object");
  auto* list_cmd = app.add_subcommand("list", "list enrolled people");
  auto* remove_cmd = app.add_subcommand("remove", "remove a person");
  remove_cmd->add_option("NAME", name, "the person's name")->required();
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    if (enroll_cmd->parsed()) return enroll(c, name, images);
    if (dir_cmd->parsed()) return enroll_dir(c, dir);
    if (query_cmd->parsed())
      return query(c, image, top, t->count() ? std::optional<double>(threshold) : std::nullopt, index, faiss, json);
    face::Gallery gallery(c.gallery);
    if (list_cmd->parsed()) {
      auto people = gallery.list();
      for (const auto& p : people) fmt::print("{}\t{}\t{}\n", p.name, p.images, p.enrolled_at);
      fmt::print("{} people; model {} ({})\n", people.size(), gallery.model().fingerprint, gallery.model().description);
      return 0;
    }
    if (remove_cmd->parsed()) {
      if (!gallery.remove(name)) face::fail("no person '{}' in gallery '{}'", name, c.gallery);
      fmt::print("removed '{}' from {}\n", name, c.gallery);
      return 0;
    }
    return 2;
  } catch (const std::exception& e) {
    // A caller that asked for JSON gets JSON on failure too (stdout), beside the message on stderr.
    if (query_cmd->parsed() && json) fmt::print("{}\n", nlohmann::json{{"error", e.what()}}.dump());
    fmt::print(stderr, "identify: error: {}\n", e.what());
    return 2;
  }
}
