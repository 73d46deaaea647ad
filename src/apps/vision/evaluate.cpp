// evaluate: the LFW verification protocol (and any pair list) for a model, the pixel baseline or
// precomputed embeddings, with the metrics facenet and OpenFace report. See docs/evaluate.md.
//
//   evaluate --pairs FILE --images DIR [--model CHECKPOINT|TORCHSCRIPT|dlib-resnet|pixel|random]
//            [--flip] [--distance l2|cosine] [--folds 10] [--far 1e-3,1e-2] [--out DIR]
//            [--align [--landmarks outer|inner] [--detector hog|mmod]] [--centre-crop F] [--allow-missing] [--batch 128] [--device cpu|cuda] [--threads N]
//   evaluate --pairs FILE --embeddings FILE.npy [--names FILE] ...
//
// Without --model, the released model (vision/model_catalog.h). Images are read at the model's
// input size (96 for nn4, 150 for dlib-resnet); --align aligns them by the model's own recipe
// (its export's align_recipe; the OpenFace template with --landmarks when it records none).
// Every distinct image of the pair list is decoded (in parallel) and embedded once. Missing or
// unreadable images stop the run (count and first few listed) unless --allow-missing, which
// scores the pairs that remain and reports what was skipped. The scoring is the verification
// protocol of eval/verification_protocol.h (the trainer's too). Writes, under --out: report.json,
// roc.csv, roc.png, scores.csv; prints a short summary on stdout.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>

#include "apps/cli_checks.h"
#include "data/normalisation.h"
#include "eval/embedding_pass.h"
#include "eval/embedding_table.h"
#include "eval/evaluation_report.h"
#include "eval/impostor_thresholds.h"
#include "eval/pair_list.h"
#include "eval/pair_scoring.h"
#include "eval/pixel_embedder.h"
#include "eval/verification_protocol.h"
#include "model/embedder.h"
#include "model/precision.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/device.h"
#include "util/progress.h"
#include "util/threads.h"
#include "vision/dlib_resnet_import.h"
#include "vision/deployed_model.h"
#include "vision/face_reader.h"
#include "vision/roc_plot.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  std::string pairs, images, model, embeddings, names, out, distance = "l2", device = "cpu", precision = "fp32";
  std::string arch = "nn4.small2", roc_scale = "log";
  std::vector<double> far_targets = {1e-3, 1e-2};
  uint64_t seed = 0;
  int folds = 10, threads = 0;
  int64_t batch = 128;
  double centre_crop = 0;
  bool align = false;
  std::string landmarks = "outer", predictor = face::AlignOptions().predictor;
  std::string detector;  // with --align: in place of the recipe's ("": the recipe's)
  bool flip = false, allow_missing = false;
};

class Stopwatch {
 public:
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }
  double total() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

// "N missing: a, b, c, ... (and M more)".
std::string listing(const std::vector<std::string>& items, size_t shown = 5) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < shown; ++i) out += fmt::format("\n  {}", items[i]);
  if (items.size() > shown) out += fmt::format("\n  ... and {} more", items.size() - shown);
  return out;
}

// Embeddings of the images that could be used, and which they are.
struct ImageEmbeddings {
  torch::Tensor rows;               // float (M, D), unit length
  std::vector<int64_t> row_of;      // per distinct image: its row, or -1 when skipped
};

ImageEmbeddings embed_from_table(const Options& o, const face::PairIndex& index, face::EvaluationRecord& rec) {
  std::string names = o.names.empty() ? fs::path(o.embeddings).replace_extension(".txt").string() : o.names;
  face::EmbeddingTable table(o.embeddings, names);
  rec.model_kind = "embeddings";
  rec.model_description = fmt::format("precomputed embeddings {} ({} rows, names {})", o.embeddings,
                                      table.embeddings().size(0), names);
  rec.model_fingerprint = table.checksum();
  rec.image_source = o.embeddings;
  if (table.renormalised() > 0)
    rec.warnings.push_back(fmt::format("{} of {} embeddings were not unit length and were L2-normalised",
                                       table.renormalised(), table.embeddings().size(0)));
  ImageEmbeddings out;
  std::vector<int64_t> take;
  for (const auto& image : index.images) {
    int64_t r = table.row(image);
    if (r < 0) {
      rec.missing.push_back(image);
      out.row_of.push_back(-1);
    } else {
      out.row_of.push_back(static_cast<int64_t>(take.size()));
      take.push_back(r);
    }
  }
  out.rows = table.embeddings().index_select(0, torch::tensor(take, torch::kInt64));
  return out;
}

// The model under evaluation: deployed as verify, identify and serve open it (vision/deployed_model.h;
// evaluate chooses its own threshold, so it never asks the model for one), or the pixel baseline.
struct EvaluatedModel {
  std::unique_ptr<face::DeployedModel> deployed;
  std::unique_ptr<face::Embedder> pixel;
  face::Embedder* operator->() { return deployed ? &deployed->embedder() : pixel.get(); }
  face::Embedder& operator*() { return *operator->(); }
};

EvaluatedModel open_model(const Options& o, face::EvaluationRecord& rec) {
  EvaluatedModel m;
  if (o.model == "pixel") {
    m.pixel = face::pixel_embedder();
    rec.model_kind = "pixel";
  } else {
    face::DeployedModelOptions d;
    d.model = o.model, d.arch = o.arch, d.seed = o.seed, d.device = o.device, d.precision = o.precision;
    m.deployed = std::make_unique<face::DeployedModel>(d);
    rec.model_kind = o.model == "random" || o.model == face::kDlibResNetName ? o.model
                     : m->description().rfind("TorchScript", 0) == 0       ? "torchscript"
                                                                             : "checkpoint";
  }
  rec.model_description = m->description();
  rec.model_fingerprint = m->fingerprint();
  return m;
}

ImageEmbeddings embed_from_images(const Options& o, const face::PairIndex& index, face::EvaluationRecord& rec,
                                  Stopwatch& clock) {
  auto embedder = open_model(o, rec);
  rec.image_source = o.images;
  rec.timings.push_back({"load_model", clock.lap()});

  // Missing files are found before any decoding, so a wrong --images fails at once.
  std::vector<fs::path> files;
  std::vector<size_t> which;
  for (size_t i = 0; i < index.images.size(); ++i) {
    fs::path f = fs::path(o.images) / index.images[i];
    std::error_code ec;
    if (fs::is_regular_file(f, ec)) files.push_back(f), which.push_back(i);
    else rec.missing.push_back(index.images[i]);
  }
  if (!rec.missing.empty() && !o.allow_missing)
    face::fail("{} of {} images listed in {} are missing under {}:{}\n(--allow-missing scores the remaining pairs)",
               rec.missing.size(), index.images.size(), o.pairs, o.images, listing(rec.missing));

  face::ReadFaces faces;
  const int size = static_cast<int>(embedder->input_size());
  {
    face::Progress progress("decode", static_cast<int64_t>(files.size()));
    face::FaceReadOptions read;
    read.size = size;
    // The model's alignment recipe (its export records it; the OpenFace defaults when unknown).
    std::string model_recipe = embedder->metadata("align_recipe");
    face::AlignOptions recipe = face::align_options_from_recipe(model_recipe, size);
    if (!model_recipe.empty() && model_recipe != "unspecified") read.recipe_size = recipe.size;
    if (o.align) {
      // At the recipe's own size (the training faces'), then resized to the model's input; a
      // face not found takes the recipe's centre-crop fallback and is counted.
      read.framing = face::Framing::align;
      read.align = recipe;
      if (read.align.templ == face::AlignTemplate::openface) read.align.landmarks = face::parse_landmark_set(o.landmarks);
      read.align.predictor = o.predictor;
      if (!o.detector.empty()) read.align.detector = face::parse_face_detector(o.detector);
      read.align.detector_precision = face::precision_from_name(o.precision);  // resolved in main
      rec.warnings.push_back("images aligned on the fly: " + read.align.recipe());
    } else if (o.centre_crop > 0) {
      read.framing = face::Framing::centre_crop;
      read.centre_crop = o.centre_crop;
    }
    faces = face::read_faces(files, read, &progress);
  }
  rec.align_fallback = faces.fell_back;
  if (faces.resized > 0 && faces.resized_from > 0 && o.centre_crop == 0)
    // Every file a square of one side: an aligned tree at another size (tools/run.sh's 150 px
    // chips for the 96 px student), resized as the trainer resizes them. Said, not warned.
    fmt::print(stderr, "evaluate: {} images are {}x{} aligned faces, resized to the model's {}x{}\n", faces.resized,
               faces.resized_from, faces.resized_from, size, size);
  else if (faces.resized > 0)
    rec.warnings.push_back(fmt::format(
        "{} images were not {}x{} and were resized{}: is {} an aligned tree (see `align`)?", faces.resized,
        size, size, o.centre_crop > 0 ? " after the centre crop" : "", o.images));
  ImageEmbeddings out;
  out.row_of.assign(index.images.size(), -1);
  std::vector<int64_t> good;
  for (size_t k = 0; k < files.size(); ++k) {
    if (!faces.errors[k].empty()) {
      rec.unreadable.push_back(faces.errors[k]);
      continue;
    }
    out.row_of[which[k]] = static_cast<int64_t>(good.size());
    good.push_back(static_cast<int64_t>(k));
  }
  if (!rec.unreadable.empty() && !o.allow_missing)
    face::fail("{} of {} images could not be read:{}\n(--allow-missing scores the remaining pairs)",
               rec.unreadable.size(), index.images.size(), listing(rec.unreadable));
  torch::Tensor images = faces.images.index_select(0, torch::tensor(good, torch::kInt64));
  faces.images = torch::Tensor();
  rec.timings.push_back({"load_images", clock.lap()});

  face::Progress progress("embed", images.size(0));
  out.rows = face::embed_images(*embedder, images, {o.batch, o.flip}, &progress);
  progress.finish();
  rec.timings.push_back({"embed", clock.lap()});
  return out;
}

int run(const Options& o) {
  Stopwatch clock;
  face::configure_threads(o.threads);
  face::DistanceKind distance = face::parse_distance(o.distance);
  if (o.embeddings.empty() == o.images.empty()) face::fail("give exactly one of --images DIR and --embeddings FILE.npy");
  if (o.embeddings.size() && o.model.size())
    face::fail("--model and --embeddings exclude each other: the embeddings already come from a model");
  if (o.roc_scale != "log" && o.roc_scale != "linear") face::fail("--roc-far-scale must be log or linear");

  face::EvaluationRecord rec;
  face::PairList list = face::read_pair_list(o.pairs);
  face::PairIndex index = face::index_pair_images(list.pairs);
  rec.pairs_file = o.pairs;
  rec.pairs_format = list.format;
  rec.pairs_checksum = list.checksum;
  rec.pairs_folds = list.folds;
  rec.pairs_listed = static_cast<int64_t>(list.pairs.size());
  rec.images_distinct = static_cast<int64_t>(index.images.size());
  rec.distance = face::distance_name(distance);
  rec.timings.push_back({"read_pairs", clock.lap()});

  ImageEmbeddings emb;
  if (o.embeddings.empty()) {
    emb = embed_from_images(o, index, rec, clock);
  } else {
    emb = embed_from_table(o, index, rec);
    rec.timings.push_back({"load_embeddings", clock.lap()});
  }
  if (!rec.missing.empty() && !o.allow_missing)  // (images were checked already; this is the --embeddings case)
    face::fail("{} of {} images listed in {} have no embedding in {}:{}\n(--allow-missing scores the remaining pairs)",
               rec.missing.size(), index.images.size(), o.pairs, o.embeddings, listing(rec.missing));
  rec.images_embedded = emb.rows.size(0);

  // The protocol over the pairs whose two images were embedded (eval/verification_protocol.h).
  face::ScoredPairs scored =
      face::score_pair_list(list, index, emb.row_of, emb.rows, {distance, o.folds, o.far_targets});
  rec.pairs_scored = static_cast<int64_t>(scored.pairs.size());
  rec.pairs_same = scored.same, rec.pairs_different = scored.different;
  if (rec.pairs_scored < rec.pairs_listed)
    rec.warnings.push_back(fmt::format("{} of {} pairs skipped: an image was missing or unreadable",
                                       rec.pairs_listed - rec.pairs_scored, rec.pairs_listed));
  const face::VerificationMetrics& m = scored.metrics;
  // Strict thresholds from every pair of different people among the images (the list's own
  // impostor pairs are too few): what export records as the model's clustering threshold.
  if (std::vector<int64_t> person = face::pair_list_identities(list, index.images); !person.empty()) {
    std::vector<int64_t> embedded, who;
    for (size_t i = 0; i < index.images.size(); ++i)
      if (emb.row_of[i] >= 0) embedded.push_back(emb.row_of[i]), who.push_back(person[i]);
    rec.impostor = face::impostor_thresholds(
        face::l2_normalise(emb.rows.index_select(0, torch::tensor(embedded, torch::kInt64))), who, {1e-3, 1e-4, 1e-5},
        distance);
  }
  rec.timings.push_back({"score", clock.lap()});

  std::string far_list;
  for (double f : o.far_targets) far_list += (far_list.empty() ? "" : ",") + fmt::format("{}", f);
  rec.options = {{"model", o.model},        {"images", o.images},
                 {"embeddings", o.embeddings}, {"distance", rec.distance},
                 {"flip", o.flip ? "true" : "false"},
                 {"folds", list.folds > 1 ? fmt::format("{} (from the pair list)", list.folds) : std::to_string(o.folds)},
                 {"far", far_list},         {"centre_crop", fmt::format("{}", o.centre_crop)},
                 {"allow_missing", o.allow_missing ? "true" : "false"},
                 {"arch", o.model == "random" ? o.arch : ""},
                 {"seed", o.model == "random" ? std::to_string(o.seed) : ""},
                 {"batch", std::to_string(o.batch)}, {"device", o.device},
                 {"precision", o.precision}, {"detector", o.align ? o.detector : ""}};

  for (const auto& w : rec.warnings) fmt::print(stderr, "warning: {}\n", w);
  if (!o.out.empty()) {
    fs::create_directories(o.out);
    fs::path out(o.out);
    face::write_file_atomic(out / "roc.csv", face::roc_csv(m));
    face::write_file_atomic(out / "scores.csv", face::pair_scores_csv(scored.pairs, scored.folds, scored.distances));
    face::RocPlotOptions plot;
    plot.log_far = o.roc_scale == "log";
    plot.different_pairs = rec.pairs_different;
    plot.title = fmt::format("{}: {}", fs::path(o.pairs).filename().string(), rec.model_description);
    face::write_roc_png(out / "roc.png", m, plot);
    rec.outputs = {{"report", (out / "report.json").string()}, {"roc_csv", (out / "roc.csv").string()},
                   {"roc_png", (out / "roc.png").string()}, {"scores_csv", (out / "scores.csv").string()}};
  }
  rec.timings.push_back({"write", clock.lap()});
  rec.timings.push_back({"total", clock.total()});
  if (!o.out.empty()) face::write_file_atomic(fs::path(o.out) / "report.json", face::evaluation_json(rec, m));
  fmt::print("{}", face::evaluation_summary(rec, m));
  if (!o.out.empty()) fmt::print("report: {}\n", (fs::path(o.out) / "report.json").string());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Verification accuracy on LFW (or any pair list), as facenet and OpenFace report it"};
  Options o;
  app.add_option("--pairs", o.pairs, "pair list: LFW pairs.txt (View 2), pairsDevTrain/Test.txt (View 1), or CSV path1,path2,same")
      ->required();
  app.add_option("--images", o.images, "image root the pair list's paths are relative to (an aligned tree)");
  app.add_option("--model", o.model, "checkpoint, model file, TorchScript module, 'dlib-resnet' (the teacher), 'pixel' "
                                     "(raw pixels) or 'random' (untrained); default: the released model");
  app.add_option("--embeddings", o.embeddings, "precomputed embeddings (.npy, N x D) instead of --images/--model");
  app.add_option("--names", o.names, "names file for --embeddings, one image path per row (default: .npy with .txt)");
  app.add_flag("--flip", o.flip, "add the mirrored image's embedding (sum, re-normalised)");
  app.add_option("--distance", o.distance, "l2 (squared Euclidean, [0,4]) or cosine (1 - cos)")->capture_default_str();
  app.add_option("--folds", o.folds, "folds for lists without their own (View 1, CSV)")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--far", o.far_targets, "FAR targets for VAL@FAR")->delimiter(',')->capture_default_str()->check(face::cli::finite(1e-9, 1));
  app.add_option("--out", o.out, "folder for report.json, roc.csv, roc.png, scores.csv");
  app.add_option("--roc-far-scale", o.roc_scale, "FAR axis of roc.png: log or linear")->capture_default_str();
  app.add_option("--centre-crop", o.centre_crop,
                 "keep the central square of this fraction of the shorter side before resizing (unaligned crops)")
      ->capture_default_str()->check(face::cli::finite(0, 1));
  app.add_flag("--align", o.align, "align raw images on the fly with the `align` recipe (a face not found takes the centre-crop fallback, counted)");
  app.add_option("--landmarks", o.landmarks, "with --align: outer (eye corners + nose) or inner (inner eyes + bottom lip)")
      ->capture_default_str();
  app.add_option("--predictor", o.predictor, "with --align: dlib 68-landmark model")->capture_default_str();
  face::cli::add_detector(app, o.detector);
  app.add_flag("--allow-missing", o.allow_missing, "score the pairs whose images exist; report the rest as skipped");
  app.add_option("--arch", o.arch, "architecture for --model random")->capture_default_str();
  app.add_option("--seed", o.seed, "seed for --model random")->capture_default_str();
  app.add_option("--batch", o.batch, "images per forward pass")->capture_default_str()->check(face::cli::batch());
  app.add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
  face::cli::add_precision(app, o.precision);
  app.add_option("--threads", o.threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  FACE_PARSE_OPTIONS(app, argc, argv);
  try {
    // The report records the precision the model ran in, not the word "auto".
    o.precision = face::precision_name(face::resolve_precision(o.precision, face::parse_device(o.device)));
    return run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "evaluate: error: {}\n", e.what());
    return 1;
  }
}
