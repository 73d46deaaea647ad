// pack: an aligned image folder -> one decoded pack file (data/pack.h), rebuilt only when stale.
//
//   pack ALIGNED_DIR OUT.pack [--min-images 1] [--max-images 0] [--size 96] [--force]
//        [--max-pixels N] [--threads N]
//
// The pack records a fingerprint of its source (every image's relative path, size and time, the
// filters and the size); when OUT.pack exists with the current fingerprint nothing is done, so
// scripts can call `pack` unconditionally. Images that cannot be decoded are left out with a
// warning naming them. Exit status: 0 on success or up to date; 1 when no image could be
// decoded or the pack cannot be written; 2 for bad options.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>

#include "apps/cli_checks.h"
#include "util/error.h"
#include "util/threads.h"
#include "vision/pack_builder.h"

int main(int argc, char** argv) {
  CLI::App app{"Decode an (aligned) image folder into one pack file"};
  std::string source, out;
  face::ImageFolderOptions folder;
  face::PackBuildOptions options;
  bool force = false;
  int threads = 0;
  app.add_option("source", source, "image folder, one sub-folder per identity")->required();
  app.add_option("pack", out, "output pack file")->required();
  app.add_option("--min-images", folder.min_images, "drop identities with fewer images")->capture_default_str()->check(face::cli::count());
  app.add_option("--max-images", folder.max_images, "keep at most this many images per identity (0 = all)")
      ->capture_default_str()->check(face::cli::count(0));
  app.add_option("--size", options.size, "image side in the pack (resized when different)")
      ->capture_default_str()->check(CLI::Range(8, 4096));
  app.add_option("--max-pixels", options.read.max_pixels, "refuse images larger than this (width x height)")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  app.add_flag("--force", force, "rebuild even when the pack is up to date");
  app.add_option("--threads", threads, "decoding threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    face::configure_threads(threads);
    auto start = std::chrono::steady_clock::now();
    face::EnsuredPack result = face::ensure_pack(source, out, folder, options, force);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!result.rebuilt) {
      fmt::print("pack: '{}' is up to date (source fingerprint {})\n", out, result.fingerprint);
      return 0;
    }
    const auto& b = result.build;
    size_t shown = 0;
    for (const auto& w : b.warnings)
      if (shown++ < 50) fmt::print(stderr, "warning: {}\n", w);
    if (b.warnings.size() > 50) fmt::print(stderr, "warning: ... and {} more\n", b.warnings.size() - 50);
    fmt::print("pack: {} ({}) -> '{}': {} images of {} identities ({} listed, {} converted, {} failed), "
               "{} warnings, {:.1f} s, fingerprint {}\n",
               source, result.reason, out, b.decoded, b.pack.identities.size(), b.listed, b.converted, b.failed,
               b.warnings.size(), seconds, result.fingerprint);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "pack: error: {}\n", e.what());
    return 1;
  }
}
