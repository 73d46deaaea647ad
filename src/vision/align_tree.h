// align_tree.h: a raw image tree -> the same tree of aligned face crops, resumable, with a manifest.
//
// Every image (jpg, jpeg, png, bmp, webp) under `input` (`<identity>/<image>` or flat) is
// aligned (vision/face_aligner.h) to `output`/<same relative path>. OutputFormat::same keeps
// each file name and encodes by its extension (JPEG at jpeg_quality), so pair lists that name
// `Name/Name_0001.jpg` work unchanged on the aligned tree; png writes lossless PNGs (extension
// replaced by .png).
//
// Resumable: an output that already exists is kept (and its manifest row too) unless `force`;
// the manifest is rewritten atomically every 30 s and at the end, so a killed run loses at most
// the rows of the last 30 s (their images are then listed as "kept"). A manifest written with a
// different recipe is refused (mixing recipes in one tree) unless `force`. An existing manifest
// file is rewritten only when it is this output tree's align manifest, or with `overwrite`.
//
// Manifest (default output/align_manifest.jsonl), JSON lines: first a header
// {"manifest":"align","version":1,"recipe":...,"input":...,"output":...,"run":{...},
//  "counts":{...}}, then one object per input image in sorted order:
// {"path","output","status":"aligned|fallback|failed|kept","reason","faces","score",
//  "landmarks":[[x,y],[x,y],[x,y]],"source_size":[w,h],"conversion"}.
//
// Bad input never stops a run: an image that cannot be read or decoded is recorded as failed with
// the reason; conversions (grayscale, RGBA, 16-bit) are recorded too.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "util/progress.h"
#include "vision/face_aligner.h"

namespace face {

enum class OutputFormat { same, png };
OutputFormat parse_output_format(const std::string& name);  // "same" | "png"; face::Error otherwise

struct AlignTreeOptions {
  std::filesystem::path input, output;
  std::filesystem::path manifest;  // empty: output/align_manifest.jsonl
  AlignOptions align;
  OutputFormat format = OutputFormat::same;
  int jpeg_quality = 95;            // 1..100
  bool force = false;               // re-align images whose output exists; ignore an earlier recipe
  bool overwrite = false;           // replace a manifest file that is not this tree's
  int workers = 1;                  // threads, each with its own aligner
};

// What a run will do, before it aligns anything.
struct AlignTreePlan {
  AlignTreeOptions options;             // input and output without a trailing '/', manifest resolved
  std::vector<std::filesystem::path> sources, targets;  // every image found, and its output
  std::vector<std::string> relative;    // its path relative to the input (the manifest's "path")
  std::vector<nlohmann::json> rows;     // manifest rows of the kept images (null for those to do)
  std::vector<size_t> todo;             // images to align
  std::vector<std::string> listing_warnings;
};

// Requires: options.input a directory, options.output another folder. Ensures: the plan; the
// output folder exists. Fails (face::Error naming the path) on a missing input, an output that
// is the input, no images, a manifest that is not ours, or one of another recipe.
AlignTreePlan plan_align_tree(AlignTreeOptions options);

struct AlignTreeResult {
  std::vector<nlohmann::json> rows;     // one manifest row per image, in sorted order
  int64_t aligned = 0, fallback = 0, failed = 0, kept = 0;
  bool write_failed = false;            // some aligned image could not be written (named in its row)
  std::vector<std::string> failures;    // "path: reason" of images that could not be read
  std::vector<std::string> conversions; // "image 'path' <conversion>"
  std::map<std::string, int> reasons;   // "failed: ..." / "fallback: ..." -> count
};

// Aligns the plan's todo images with plan.options.workers threads and writes the manifest
// (atomically; every 30 s while running, and at the end). `progress` (optional) advances per
// image. Fails (face::Error) when an aligner cannot be made (e.g. the landmark model is missing)
// or the final manifest cannot be written.
AlignTreeResult align_tree(const AlignTreePlan& plan, Progress* progress = nullptr);

}  // namespace face
