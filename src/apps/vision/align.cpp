// align: a raw image tree -> the same tree of aligned face crops, plus a manifest.
//
//   align INPUT_DIR OUTPUT_DIR [--size 96] [--template openface|dlib-chip] [--padding 0.25]
//         [--landmarks outer|inner] [--detector hog|mmod] [--upsample 1]
//         [--pick centre|largest] [--no-face skip|centre-crop] [--predictor PATH]
//         [--format same|png] [--jpeg-quality 95] [--force] [--threads N] [--manifest FILE [--overwrite]]
//
// The aligner, its resumption and its manifest (default OUTPUT_DIR/align_manifest.jsonl) are
// vision/align_tree.h's; this program parses the options and prints warnings (unreadable and
// converted images are named) and a summary.
// Exit status: 0 when at least one output image exists afterwards and everything could be
// written; 1 when no image was found, none could be aligned or cropped, or an output or the
// manifest could not be written; 2 for bad command-line options.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <thread>

#include "apps/cli_checks.h"
#include "model/precision.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/threads.h"
#include "vision/align_tree.h"

namespace fs = std::filesystem;

namespace {

// Prints up to `limit` warnings of one kind, then how many more the manifest holds.
void print_warnings(const std::string& kind, const std::vector<std::string>& warnings, size_t limit = 40) {
  for (size_t i = 0; i < warnings.size() && i < limit; ++i) fmt::print(stderr, "warning: {}\n", warnings[i]);
  if (warnings.size() > limit)
    fmt::print(stderr, "warning: ... and {} more {} (all are in the manifest)\n", warnings.size() - limit, kind);
}

int run(const face::AlignTreeOptions& options) {
  face::AlignTreePlan plan = face::plan_align_tree(options);
  const auto& s = plan.options;
  print_warnings("listing warnings", plan.listing_warnings);
  if (plan.sources.empty()) face::fail("no images (jpg, jpeg, png, bmp, webp) found under '{}'", s.input.string());
  const size_t images = plan.sources.size();
  fmt::print(stderr, "align: {} images under '{}', {} already aligned (kept), {} to do with {} worker(s)\n  recipe {}\n",
             images, s.input.string(), images - plan.todo.size(), plan.todo.size(), s.workers, s.align.recipe());
  face::Progress progress("align", static_cast<int64_t>(plan.todo.size()));
  face::AlignTreeResult r = face::align_tree(plan, &progress);
  print_warnings("unreadable images", r.failures);
  print_warnings("converted images", r.conversions);
  fmt::print("align: {} images: {} aligned, {} fallback (centre crop), {} failed, {} kept from an earlier run; "
             "{} converted, {} listing warnings; {:.1f} images/s\n",
             images, r.aligned, r.fallback, r.failed, r.kept, r.conversions.size(), plan.listing_warnings.size(),
             progress.rate());
  for (const auto& [reason, n] : r.reasons) fmt::print("  {:6}  {}\n", n, reason);
  fmt::print("manifest: {}\n", s.manifest.string());
  if (r.write_failed) face::fail("some aligned images could not be written to '{}' (see the manifest)", s.output.string());
  if (r.aligned + r.fallback == 0 && r.kept == 0) face::fail("no image under '{}' could be aligned", s.input.string());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Align faces: an image tree -> the same tree of aligned crops (dlib HOG or CNN + 68 landmarks, OpenFace template)"};
  face::AlignTreeOptions s;
  std::string input, output, manifest, landmarks = "outer", pick = "centre", no_face = "centre-crop",
              templ = "openface", format = "same", detector = "hog", precision = "fp32";
  int threads = 0;
  app.add_option("input", input, "folder of images (<identity>/<image> or flat)")->required();
  app.add_option("output", output, "folder for the aligned tree")->required();
  app.add_option("--size", s.align.size, "output side in pixels")->capture_default_str()->check(CLI::Range(8, 4096));
  app.add_option("--template", templ,
                 "openface (3 landmarks onto OpenFace's template, nn4) or dlib-chip (dlib's face chip, its ResNet)")
      ->capture_default_str()->check(CLI::IsMember({"openface", "dlib-chip"}));
  app.add_option("--padding", s.align.chip_padding, "dlib-chip: margin around the face, in face sizes")
      ->capture_default_str()->check(face::cli::finite(0, 2));
  app.add_option("--landmarks", landmarks, "outer (eye corners 36,45 + nose 33) or inner (39,42 + lip 57)")
      ->capture_default_str()->check(CLI::IsMember({"outer", "inner"}));
  app.add_option("--detector", detector,
                 "hog (dlib's HOG detector) or mmod (dlib's CNN detector: finds turned and badly lit faces HOG misses; at "
                 "--upsample 0 about 2x faster than HOG at 1, at 1 about 1.8x slower)")
      ->capture_default_str()->check(CLI::IsMember({"hog", "mmod"}));
  face::cli::add_upsample(app, s.align.upsample);
  face::cli::add_precision(app, precision)->description("mmod's network: auto | fp32 | bf16 (auto: bf16 where the CPU computes it natively)");
  app.add_option("--pick", pick, "which face: centre (nearest the image centre, LFW-style) or largest")
      ->capture_default_str()->check(CLI::IsMember({"centre", "center", "largest"}));
  app.add_option("--no-face", no_face, "when no face is found: skip, or centre-crop (status fallback)")
      ->capture_default_str()->check(CLI::IsMember({"skip", "centre-crop", "center-crop"}));
  app.add_option("--predictor", s.align.predictor, "dlib 68-landmark model")->capture_default_str();
  app.add_option("--format", format, "same (keep names, encode by extension) or png (lossless, .png names)")
      ->capture_default_str()->check(CLI::IsMember({"same", "png"}));
  app.add_option("--jpeg-quality", s.jpeg_quality, "quality of JPEG outputs")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_flag("--force", s.force, "re-align images whose output exists");
  app.add_flag("--overwrite", s.overwrite, "replace a --manifest file that is not this tree's align manifest");
  app.add_option("--threads", threads, "worker threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_option("--manifest", manifest, "manifest file (default OUTPUT/align_manifest.jsonl)");
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    s.input = input;
    s.output = output;
    s.manifest = manifest;
    s.format = face::parse_output_format(format);
    s.align.detector_precision = face::resolve_precision(precision, torch::Device(torch::kCPU));
    s.align.templ = face::parse_align_template(templ);
    s.align.landmarks = face::parse_landmark_set(landmarks);
    s.align.pick = face::parse_face_pick(pick);
    s.align.no_face = face::parse_no_face(no_face);
    s.align.detector = face::parse_face_detector(detector);
    // Workers align whole images, each with its own detector: LibTorch (the MMOD detector's
    // network) gets one thread per worker.
    s.workers = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    face::configure_threads(1);
    return run(s);
  } catch (const std::exception& e) {
    fmt::print(stderr, "align: error: {}\n", e.what());
    return 1;
  }
}
