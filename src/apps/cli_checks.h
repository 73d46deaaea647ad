// cli_checks.h: what every command-line program checks the same way, before any work.
//
// Bad options exit with status 2 and one line naming the option (FACE_PARSE_OPTIONS); resource
// options are bounded (a thread count of 100000 would start 100000 threads); real-valued options
// (thresholds, FAR targets, crop fractions, margins) must be finite numbers in their range: NaN
// and infinities pass a plain range check, so `finite` refuses them by name.
#pragma once
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <string>

#include "util/threads.h"

namespace face::cli {

constexpr int kMaxBatch = 65536;       // images per forward pass
constexpr int kMaxCount = 100000000;   // counts of steps, queries, images

// A finite number in [lo, hi].
inline CLI::Validator finite(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          return "not a number: '" + text + "'";
        }
        if (used != text.size()) return "not a number: '" + text + "'";
        if (!std::isfinite(v)) return "must be a finite number, got '" + text + "'";
        if (v < lo || v > hi) return fmt::format("must be in [{}, {}], got {}", lo, hi, text);
        return "";
      },
      fmt::format("FINITE in [{}, {}]", lo, hi));
}

inline CLI::Validator threads() { return CLI::Range(0, face::kMaxThreads); }  // util/threads.h
inline CLI::Validator batch() { return CLI::Range(1, kMaxBatch); }
inline CLI::Validator count(int lo = 1) { return CLI::Range(lo, kMaxCount); }

// --precision auto|fp32|bf16 (model/precision.h), into `name`; resolve with resolve_precision.
inline CLI::Option* add_precision(CLI::App& app, std::string& name) {
  return app.add_option("--precision", name, "auto | fp32 | bf16 (auto: bf16 where the CPU or GPU computes it natively)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
}

// --detector hog|mmod (vision/face_aligner.h) into `name`, for tools that align photos by a
// model's recipe: empty (not given) keeps the recipe's detector.
inline CLI::Option* add_detector(CLI::App& app, std::string& name) {
  return app.add_option("--detector", name,
                        "face detector in place of the model recipe's: hog (dlib's HOG) or mmod (dlib's CNN: finds "
                        "turned and badly lit faces HOG misses; at --upsample 0 about 2x faster than HOG at 1)")
      ->check(CLI::IsMember({"hog", "mmod"}));
}

// --upsample N (0..4) into `times`: how often the face detector upsamples the image first.
inline CLI::Option* add_upsample(CLI::App& app, int& times) {
  return app.add_option("--upsample", times, "face detector upsampling (0..4; 1 finds faces down to ~40 px, each step ~4x slower)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4));
}

}  // namespace face::cli

// Parses the command line; on a bad option prints CLI11's one-line message and returns 2 from
// main (help and version return 0).
#define FACE_PARSE_OPTIONS(app, argc, argv)         \
  try {                                              \
    (app).parse((argc), (argv));                     \
  } catch (const CLI::ParseError& e) {               \
    return (app).exit(e) == 0 ? 0 : 2;               \
  }
