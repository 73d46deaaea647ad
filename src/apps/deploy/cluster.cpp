// cluster: group a photo collection by person (FaceNet's third use, beside verify and identify).
//
//   cluster INPUT... --out DIR [--model M] [--method chinese-whispers|agglomerative]
//           [--threshold T | --far F] [--neighbours 20] [--index auto|flat|ivf] [--nprobe 16]
//           [--aligned] [--crops] [--upsample 1] [--detector hog|mmod] [--truth folders|FILE] [--overwrite]
//           [--threads N] [--batch 64] [--device D] [--iterations 100] [--seed 0]
//   cluster --embeddings E.npy --out DIR ...   (rows of E are the faces; no images)
//
// Every face in every photo (INPUT: image files or folders, searched recursively) is detected
// and aligned by the model's recipe, embedded, joined to its nearest neighbours by FAISS
// (deploy/cluster/neighbour_graph.h), and clustered: Chinese whispers (dlib) over the edges
// shorter than the threshold, or average linkage until the closest clusters are the threshold
// apart. The threshold defaults to the model's distance at FAR 0.1 / faces (about one false
// neighbour per ten faces, so it tightens as the collection grows: deploy/cluster/
// cluster_threshold.h), read off the strict thresholds its export records; --far F reads it at
// another FAR. A model without them falls back, with a warning, to its verification threshold,
// which is far too loose for a large collection (experiments/cluster/README.md). --aligned
// takes each file as one aligned face (an `align` tree). --truth scores the result (eval/clustering_metrics.h): "folders" reads the
// identity from each photo's folder (the face nearest the photo's centre is the labelled one),
// FILE gives one label per face.
//
// Output (deploy/cluster/cluster_output.h): DIR/clusters.json, and with --crops the face crops
// in one folder per cluster. DIR must be new, empty or this tool's own unless --overwrite. The
// face pass resumes from DIR/.cache after an interruption (face_collection.h).
// Unreadable images are named and skipped, photos without a face are named; both are listed in
// clusters.json. Exit status: 0 done, 1 error (no face at all, a model or output problem), 2 bad
// options.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <optional>

#include "apps/cli_checks.h"
#include "deploy/cluster/cluster_method.h"
#include "eval/cluster_labels.h"
#include "deploy/cluster/cluster_output.h"
#include "deploy/cluster/cluster_threshold.h"
#include "deploy/cluster/cluster_truth.h"
#include "deploy/cluster/face_collection.h"
#include "deploy/cluster/neighbour_graph.h"
#include "util/error.h"
#include "util/npy.h"
#include "util/progress.h"
#include "util/threads.h"
#include "vision/image_io.h"
#include "vision/deployed_model.h"

namespace fs = std::filesystem;

namespace {

constexpr size_t kWarningsShown = 20;  // the rest are in clusters.json

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<fs::path> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const auto& in : inputs) {
    std::vector<std::string> warnings;
    for (auto& f : face::list_images(in, &warnings)) files.push_back(std::move(f));
    for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  }
  return files;
}

// The rows of an .npy as faces without images.
face::FaceCollection collection_from_npy(const fs::path& file) {
  face::FaceCollection c;
  c.embeddings = face::read_npy(file);
  c.faces.assign(static_cast<size_t>(c.embeddings.size(0)), face::CollectedFace{});
  for (auto& f : c.faces) f.image = -1;
  c.recipe = "embeddings from " + file.string();
  return c;
}

nlohmann::json scores_json(const face::ClusteringScores& s) {
  return {{"pairwise", {{"precision", s.pairwise_precision}, {"recall", s.pairwise_recall}, {"f", s.pairwise_f}}},
          {"bcubed", {{"precision", s.bcubed_precision}, {"recall", s.bcubed_recall}, {"f", s.bcubed_f}}},
          {"nmi", s.nmi},
          {"faces_scored", s.items},
          {"identities", s.classes},
          {"clusters_of_scored_faces", s.clusters}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Group the faces in a photo collection by person"};
  std::vector<std::string> inputs;
  std::string out, model, method = "chinese-whispers", index = "auto", truth, embeddings, device_name = "cpu",
              precision = "fp32";
  double threshold = 0, far_target = 0;
  face::NeighbourGraphOptions graph_options;
  face::ChineseWhispersOptions whispers;
  face::CollectOptions collect;
  bool crops = false, overwrite = false;
  int threads = 0;
  app.add_option("inputs", inputs, "image files or folders (searched recursively)");
  app.add_option("--out", out, "output folder (clusters.json; with --crops a folder per cluster)")->required();
  app.add_option("--model", model, "exported model, checkpoint or 'dlib-resnet' (default: the released model)");
  app.add_option("--method", method, "chinese-whispers or agglomerative (average linkage)")
      ->capture_default_str()
      ->check(CLI::IsMember({"chinese-whispers", "agglomerative"}));
  auto* t = app.add_option("--threshold", threshold,
                           "squared L2 distance below which two faces are joined (default: the model's distance at "
                           "FAR 0.1 / faces, from its recorded strict thresholds; else its verification threshold)")
                ->check(face::cli::finite(0, 4));
  auto* far = app.add_option("--far", far_target, "take the model's distance at this FAR (default 0.1 / faces)")
                  ->check(face::cli::finite(1e-12, 0.5))
                  ->excludes(t);
  app.add_option("--neighbours", graph_options.neighbours, "neighbours per face in the graph")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--index", graph_options.index, "neighbour search: flat (exact), ivf (approximate) or auto")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "flat", "ivf"}));
  app.add_option("--nprobe", graph_options.nprobe, "ivf: cells visited per face")->capture_default_str()->check(CLI::Range(1, 65536));
  app.add_option("--iterations", whispers.iterations, "chinese-whispers: passes over the graph")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--seed", whispers.seed, "chinese-whispers: visiting order; ivf: k-means")->capture_default_str();
  app.add_flag("--aligned", collect.aligned, "each image is one already aligned face (an `align` tree)");
  app.add_flag("--crops", crops, "also write the face crops, one folder per cluster");
  face::cli::add_upsample(app, collect.upsample);
  app.add_option("--truth", truth, "score the result: 'folders' (identity = a photo's folder) or a file of labels");
  app.add_option("--embeddings", embeddings, "cluster the rows of this .npy instead of photos");
  app.add_flag("--overwrite", overwrite, "write into an --out folder this tool did not create");
  app.add_option("--threads", threads, "threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_option("--batch", collect.batch, "faces per forward pass")->capture_default_str()->check(face::cli::batch());
  app.add_option("--device", device_name, "cpu or cuda[:N] (embedding)")->capture_default_str();
  face::cli::add_precision(app, precision);
  face::cli::add_detector(app, collect.detector);
  FACE_PARSE_OPTIONS(app, argc, argv);
  if (inputs.empty() == embeddings.empty()) {
    fmt::print(stderr, "cluster: give images or folders, or --embeddings FILE (one of the two)\n");
    return 2;
  }

  try {
    const auto start = std::chrono::steady_clock::now();
    collect.threads = face::configure_threads(threads);
    collect.detector_precision = face::resolve_precision(precision, torch::Device(torch::kCPU));
    face::claim_output_dir(out, overwrite);
    face::DeployedModelOptions model_options;
    model_options.model = model, model_options.device = device_name, model_options.precision = precision;
    if (t->count()) model_options.threshold = threshold;
    face::DeployedModel deployed(model_options);
    face::Embedder* embedder = &deployed.embedder();
    const face::FarThresholds far_table = deployed.far_thresholds();
    if (far->count() && far_table.empty())
      face::fail("--far: model '{}' records no strict thresholds to read a distance from (pass --threshold)",
                 deployed.name());
    if (!t->count() && far_table.empty()) {
      whispers.threshold = deployed.threshold();
      fmt::print(stderr,
                 "warning: model '{}' records no strict thresholds, so its verification threshold {:.3f} is used: "
                 "it merges people in large collections (experiments/cluster/README.md). Pass --threshold, or "
                 "export the model with `export --report` from a current `evaluate` of an LFW list\n",
                 deployed.name(), whispers.threshold);
    }
    graph_options.seed = whispers.seed;

    face::FaceCollection faces;
    if (!embeddings.empty()) {
      faces = collection_from_npy(embeddings);
    } else {
      std::vector<fs::path> files = expand_inputs(inputs);
      if (files.empty()) face::fail("no images found in the given inputs");
      collect.cache = fs::path(out) / ".cache";
      if (crops) collect.crops_dir = fs::path(out) / "faces";
      face::Progress progress("faces", static_cast<int64_t>(files.size()));
      faces = face::collect_faces(files, *embedder, collect, &progress);
      progress.finish();
      for (size_t i = 0; i < faces.warnings.size() && i < kWarningsShown; ++i)
        fmt::print(stderr, "warning: {}\n", faces.warnings[i]);
      if (faces.warnings.size() > kWarningsShown)
        fmt::print(stderr, "warning: ... and {} more (all listed in clusters.json)\n", faces.warnings.size() - kWarningsShown);
      if (faces.resumed_images > 0)
        fmt::print(stderr, "resumed: {} of {} photos from {}\n", faces.resumed_images, files.size(), collect.cache.string());
    }
    const double faces_seconds = seconds_since(start);
    if (faces.faces.empty()) face::fail("no face found in any of the {} images", faces.images.size());
    std::optional<face::ClusterThreshold> chosen;  // the default, from the model's strict thresholds
    if (t->count()) {
      whispers.threshold = threshold;
    } else if (!far_table.empty()) {
      chosen = face::default_cluster_threshold(far_table, static_cast<int64_t>(faces.faces.size()),
                                               far->count() ? std::optional(far_target) : std::nullopt);
      whispers.threshold = chosen->threshold;
      fmt::print(stderr, "threshold {:.4f}: the model's distance at FAR {:.2g}{}{}\n", chosen->threshold, chosen->far,
                 far->count() ? "" : fmt::format(" ({} false neighbours per face among {} faces)",
                                                 face::kFalseNeighboursPerFace, faces.faces.size()),
                 chosen->clamped ? ", beyond its table: its nearest recorded FAR's" : "");
    }

    const auto graph_start = std::chrono::steady_clock::now();
    std::string index_used;
    face::Progress neighbours("neighbours", faces.embeddings.size(0));
    face::NeighbourGraph graph = face::build_neighbour_graph(faces.embeddings, graph_options, &index_used, &neighbours);
    neighbours.finish();
    const double graph_seconds = seconds_since(graph_start);
    const auto cluster_start = std::chrono::steady_clock::now();
    std::vector<int64_t> labels = face::cluster_graph(graph, face::parse_cluster_method(method), whispers);
    const double cluster_seconds = seconds_since(cluster_start);

    nlohmann::json run{{"model", embedder->description()},
                       {"model_fingerprint", embedder->fingerprint()},
                       {"recipe", faces.recipe},
                       {"method", method},
                       {"threshold", whispers.threshold},
                       {"threshold_far", chosen ? nlohmann::json(chosen->far) : nlohmann::json(nullptr)},
                       {"neighbours", graph_options.neighbours},
                       {"index", index_used},
                       {"graph_edges", graph.edges.size()},
                       {"seconds", {{"faces", faces_seconds}, {"graph", graph_seconds}, {"clustering", cluster_seconds}}}};
    if (method == "chinese-whispers") run["iterations"] = whispers.iterations, run["seed"] = whispers.seed;
    std::optional<face::ClusteringScores> scores;
    if (!truth.empty()) {
      face::Truth tr = truth == "folders" ? face::truth_from_folders(faces)
                                          : face::truth_from_file(truth, static_cast<int64_t>(faces.faces.size()));
      if (tr.faces.empty()) face::fail("--truth {}: no face to score", truth);
      scores = face::score_against(tr, labels);
      run["scores"] = scores_json(*scores);
    }
    nlohmann::json report = face::cluster_report(faces, labels, run);
    face::write_cluster_output(out, report, crops);

    const auto& counts = report["counts"];
    fmt::print("{} faces in {} images ({} unreadable, {} without a face) -> {} clusters ({} of one face), {} "
               "at threshold {:.3f}; {} -> {}\n",
               counts["faces"].get<int64_t>(), counts["images"].get<int64_t>(), counts["unreadable"].get<int64_t>(),
               counts["no_face"].get<int64_t>(), counts["clusters"].get<int64_t>(), counts["singletons"].get<int64_t>(),
               method, whispers.threshold, embedder->description(), (fs::path(out) / "clusters.json").string());
    fmt::print("time: faces {:.1f} s, neighbour graph {:.1f} s ({}, k {}), clustering {:.2f} s, total {:.1f} s\n",
               faces_seconds, graph_seconds, index_used, graph_options.neighbours, cluster_seconds, seconds_since(start));
    if (scores)
      fmt::print("scores ({} faces, {} identities): pairwise P {:.4f} R {:.4f} F {:.4f}; BCubed P {:.4f} R {:.4f} "
                 "F {:.4f}; NMI {:.4f}\n",
                 scores->items, scores->classes, scores->pairwise_precision, scores->pairwise_recall, scores->pairwise_f,
                 scores->bcubed_precision, scores->bcubed_recall, scores->bcubed_f, scores->nmi);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cluster: error: {}\n", e.what());
    return 1;
  }
}
