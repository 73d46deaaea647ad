// align: a raw image tree -> the same tree of aligned face crops, plus a manifest.
//
//   align INPUT_DIR OUTPUT_DIR [--size 96] [--template openface|dlib-chip] [--padding 0.25]
//         [--landmarks outer|inner] [--upsample 1]
//         [--pick centre|largest] [--no-face skip|centre-crop] [--predictor PATH]
//         [--format same|png] [--jpeg-quality 95] [--force] [--threads N] [--manifest FILE [--overwrite]]
//
// INPUT_DIR is `<identity>/<image>` or flat; every image (jpg, jpeg, png, bmp, webp) found
// under it is aligned (vision/face_aligner.h) to OUTPUT_DIR/<same relative path>. `--format
// same` keeps each file name and encodes by its extension (JPEG at --jpeg-quality), so pair
// lists that name `Name/Name_0001.jpg` work unchanged on the aligned tree; `--format png`
// writes lossless PNGs (extension replaced by .png).
//
// Resumable: an output that already exists is kept (and its manifest row too) unless --force;
// the manifest is rewritten atomically every 30 s and at the end, so a killed run loses at most
// the rows of the last 30 s (their images are then listed as "kept"). A manifest written with a
// different recipe is refused (mixing recipes in one tree) unless --force.
//
// Manifest (default OUTPUT_DIR/align_manifest.jsonl), JSON lines: first a header
// {"manifest":"align","version":1,"recipe":...,"input":...,"output":...,"run":{...},
//  "counts":{...}}, then one object per input image in sorted order:
// {"path","output","status":"aligned|fallback|failed|kept","reason","faces","score",
//  "landmarks":[[x,y],[x,y],[x,y]],"source_size":[w,h],"conversion"}.
//
// Bad input never stops the run: an image that cannot be read or decoded is recorded as failed
// with the reason and named in a warning; conversions (grayscale, RGBA, 16-bit) are named too.
// Exit status: 0 when at least one output image exists afterwards and everything could be
// written; 1 when no image was found, none could be aligned or cropped, or an output or the
// manifest could not be written; 2 for bad command-line options.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "apps/cli_checks.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/run_info.h"
#include "util/threads.h"
#include "vision/face_aligner.h"
#include "vision/image_io.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Settings {
  fs::path input, output, manifest;
  face::AlignOptions align;
  std::string format = "same";
  int jpeg_quality = 95;
  bool force = false, overwrite = false;
  int workers = 1;
};

struct Item {
  fs::path source, target;
  std::string relative;
};

// An existing --manifest file is rewritten only when it is an align manifest of this output tree
// (a resumed run), or with --overwrite: any other file the user names is theirs.
void check_manifest_is_ours(const Settings& s) {
  std::error_code ec;
  if (s.overwrite || !fs::exists(s.manifest, ec)) return;
  std::ifstream in(s.manifest);
  std::string first;
  std::getline(in, first);
  json header = json::parse(first, nullptr, false);
  if (header.is_discarded() || !header.is_object() || header.value("manifest", "") != "align")
    face::fail("--manifest '{}' exists and is not an align manifest: refusing to overwrite it (pass --overwrite, or "
               "name another file)", s.manifest.string());
  std::string tree = header.value("output", "");
  if (fs::weakly_canonical(tree, ec) != fs::weakly_canonical(s.output, ec))
    face::fail("--manifest '{}' belongs to another aligned tree ('{}', this run writes '{}'): refusing to overwrite it "
               "(pass --overwrite, or name another file)", s.manifest.string(), tree, s.output.string());
}

// Rows of an earlier manifest by relative path; face::Error if it was written with another recipe.
std::map<std::string, json> previous_rows(const Settings& s) {
  std::map<std::string, json> rows;
  std::error_code ec;
  if (s.force || !fs::exists(s.manifest, ec)) return rows;
  std::ifstream in(s.manifest);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    json row = json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object()) {
      fmt::print(stderr, "warning: manifest '{}' line {}: not JSON, ignored\n", s.manifest.string(), number);
      continue;
    }
    if (row.contains("manifest")) {
      std::string recipe = row.value("recipe", "");
      if (recipe != s.align.recipe())
        face::fail("'{}' was aligned with recipe {}; this run's is {}: use --force or another output folder",
                   s.output.string(), recipe, s.align.recipe());
    } else if (row.contains("path")) {
      rows[row["path"].get<std::string>()] = row;
    }
  }
  return rows;
}

void write_image(const fs::path& path, const cv::Mat& rgb, int jpeg_quality) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  std::vector<int> params;
  if (ext == ".jpg" || ext == ".jpeg") params = {cv::IMWRITE_JPEG_QUALITY, jpeg_quality};
  if (ext == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, 101};  // > 100: lossless
  std::vector<uchar> bytes;
  if (!cv::imencode(ext, bgr, bytes, params)) face::fail("cannot encode '{}' as {}", path.string(), ext);
  face::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

json align_one(face::FaceAligner& aligner, const Item& item, const Settings& s, bool& write_failed) {
  json row = {{"path", item.relative}, {"output", item.target.lexically_relative(s.output).generic_string()}};
  face::RgbImage image;
  try {
    image = face::read_rgb(item.source);
  } catch (const std::exception& e) {
    row["status"] = "failed";
    row["reason"] = e.what();
    return row;
  }
  face::AlignResult r = aligner.align(image.rgb);
  row["status"] = face::to_string(r.status);
  row["reason"] = r.reason;
  row["faces"] = r.faces_found;
  row["score"] = r.detector_score;
  json points = json::array();
  for (const auto& p : r.landmarks) points.push_back({p.x, p.y});
  row["landmarks"] = points;
  row["source_size"] = {image.rgb.cols, image.rgb.rows};
  if (!image.conversion.empty()) row["conversion"] = image.conversion;
  if (!r.face.empty()) {
    try {
      write_image(item.target, r.face, s.jpeg_quality);
    } catch (const std::exception& e) {
      row["status"] = "failed";
      row["reason"] = fmt::format("output not written: {}", e.what());
      write_failed = true;
    }
  }
  return row;
}

std::string manifest_text(const Settings& s, const std::vector<json>& rows, const json& counts) {
  json header = {{"manifest", "align"}, {"version", 1},           {"recipe", s.align.recipe()},
                 {"input", s.input.string()}, {"output", s.output.string()},
                 {"run", face::run_info()}, {"counts", counts}};
  std::string text = header.dump() + "\n";
  for (const auto& row : rows)
    if (!row.is_null()) text += row.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return text;
}

json count_rows(const std::vector<json>& rows) {
  json counts = {{"aligned", 0}, {"fallback", 0}, {"failed", 0}, {"kept", 0}};
  for (const auto& row : rows)
    if (!row.is_null()) counts[row["status"].get<std::string>()] = counts[row["status"].get<std::string>()].get<int>() + 1;
  return counts;
}

// Prints up to `limit` warnings of one kind, then how many more the manifest holds.
void print_warnings(const std::string& kind, const std::vector<std::string>& warnings, size_t limit = 40) {
  for (size_t i = 0; i < warnings.size() && i < limit; ++i) fmt::print(stderr, "warning: {}\n", warnings[i]);
  if (warnings.size() > limit)
    fmt::print(stderr, "warning: ... and {} more {} (all are in the manifest)\n", warnings.size() - limit, kind);
}

int run(const Settings& s) {
  std::vector<std::string> listing_warnings;
  std::error_code ec;
  if (!fs::is_directory(s.input, ec)) face::fail("input '{}' is not a directory", s.input.string());
  fs::path output_abs = fs::weakly_canonical(s.output, ec);
  if (output_abs == fs::weakly_canonical(s.input, ec))
    face::fail("the output folder '{}' is the input folder: aligned faces would replace the originals; name another "
               "output folder", s.output.string());
  std::vector<Item> items;
  for (const auto& file : face::list_images(s.input, &listing_warnings)) {
    fs::path absolute = fs::weakly_canonical(file, ec);
    auto mismatch = std::mismatch(output_abs.begin(), output_abs.end(), absolute.begin(), absolute.end());
    if (mismatch.first == output_abs.end()) continue;  // an earlier output inside the input tree
    // Lexically: fs::relative would resolve a linked image to its target's path (outside the tree).
    fs::path relative = file.lexically_relative(s.input);
    Item item{file, s.output / relative, relative.generic_string()};
    if (s.format == "png") item.target.replace_extension(".png");
    items.push_back(std::move(item));
  }
  print_warnings("listing warnings", listing_warnings);
  if (items.empty()) face::fail("no images (jpg, jpeg, png, bmp, webp) found under '{}'", s.input.string());

  check_manifest_is_ours(s);
  fs::create_directories(s.output, ec);
  if (ec) face::fail("cannot create output folder '{}': {}", s.output.string(), ec.message());
  auto previous = previous_rows(s);

  std::vector<json> rows(items.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!s.force && fs::exists(items[i].target, ec)) {
      auto found = previous.find(items[i].relative);
      rows[i] = found != previous.end() && found->second.value("status", "") != "failed"
                    ? found->second
                    : json{{"path", items[i].relative}, {"status", "kept"},
                           {"output", items[i].target.lexically_relative(s.output).generic_string()},
                           {"reason", "output existed; no earlier manifest row"}};
    } else {
      todo.push_back(i);
    }
  }
  fmt::print(stderr, "align: {} images under '{}', {} already aligned (kept), {} to do with {} worker(s)\n  recipe {}\n",
             items.size(), s.input.string(), items.size() - todo.size(), todo.size(), s.workers, s.align.recipe());

  std::mutex rows_mutex;
  std::atomic<size_t> next{0}, done{0};
  std::atomic<bool> write_failed{false};
  std::string setup_error;  // a worker's aligner could not be created (e.g. predictor missing)
  std::vector<std::thread> threads;
  for (int w = 0; w < s.workers; ++w) {
    threads.emplace_back([&] {
      // Each worker loads its own detector and ~100 MB landmark model (in parallel with the
      // others), and only once it has an image to align.
      std::unique_ptr<face::FaceAligner> aligner;
      for (size_t k; (k = next++) < todo.size();) {
        if (!aligner) {
          try {
            aligner = std::make_unique<face::FaceAligner>(s.align);
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(rows_mutex);
            setup_error = e.what();
            next = todo.size();  // stop every worker
            done = todo.size();
            return;
          }
        }
        bool failed_write = false;
        json row = align_one(*aligner, items[todo[k]], s, failed_write);
        if (failed_write) write_failed = true;
        {
          std::lock_guard<std::mutex> lock(rows_mutex);
          rows[todo[k]] = std::move(row);
        }
        ++done;
      }
    });
  }
  // The main thread reports progress and checkpoints the manifest while the workers run.
  face::Progress progress("align", static_cast<int64_t>(todo.size()));
  size_t reported = 0;
  auto last_save = std::chrono::steady_clock::now();
  while (reported < todo.size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    size_t now_done = done.load();
    progress.advance(static_cast<int64_t>(now_done - reported));
    reported = now_done;
    if (std::chrono::steady_clock::now() - last_save > std::chrono::seconds(30) && reported < todo.size()) {
      std::lock_guard<std::mutex> lock(rows_mutex);
      try {
        face::write_file_atomic(s.manifest, manifest_text(s, rows, count_rows(rows)));
      } catch (const face::Error& e) {
        fmt::print(stderr, "warning: manifest checkpoint failed: {}\n", e.what());
      }
      last_save = std::chrono::steady_clock::now();
    }
  }
  for (auto& t : threads) t.join();
  progress.finish();
  if (!setup_error.empty()) face::fail("{}", setup_error);

  json counts = count_rows(rows);
  face::write_file_atomic(s.manifest, manifest_text(s, rows, counts));

  std::vector<std::string> failures, conversions;
  std::map<std::string, int> reasons;
  for (const auto& row : rows) {
    std::string status = row["status"].get<std::string>();
    if (status == "failed" || status == "fallback") ++reasons[status + ": " + row.value("reason", "")];
    if (status == "failed" && row.value("reason", "") != "no face detected")
      failures.push_back(fmt::format("{}: {}", row["path"].get<std::string>(), row.value("reason", "")));
    if (row.contains("conversion"))
      conversions.push_back(fmt::format("image '{}' {}", row["path"].get<std::string>(), row["conversion"].get<std::string>()));
  }
  print_warnings("unreadable images", failures);
  print_warnings("converted images", conversions);
  int aligned = counts["aligned"], fallback = counts["fallback"], failed = counts["failed"], kept = counts["kept"];
  fmt::print("align: {} images: {} aligned, {} fallback (centre crop), {} failed, {} kept from an earlier run; "
             "{} converted, {} listing warnings; {:.1f} images/s\n",
             items.size(), aligned, fallback, failed, kept, conversions.size(), listing_warnings.size(), progress.rate());
  for (const auto& [reason, n] : reasons) fmt::print("  {:6}  {}\n", n, reason);
  fmt::print("manifest: {}\n", s.manifest.string());
  if (write_failed) face::fail("some aligned images could not be written to '{}' (see the manifest)", s.output.string());
  if (aligned + fallback == 0 && kept == 0) face::fail("no image under '{}' could be aligned", s.input.string());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Align faces: an image tree -> the same tree of aligned crops (dlib HOG + 68 landmarks, OpenFace template)"};
  Settings s;
  std::string input, output, manifest, landmarks = "outer", pick = "centre", no_face = "centre-crop",
              templ = "openface";
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
  app.add_option("--upsample", s.align.upsample, "HOG detector upsampling (finds smaller faces, 4x slower each)")
      ->capture_default_str()->check(CLI::Range(0, 4));
  app.add_option("--pick", pick, "which face: centre (nearest the image centre, LFW-style) or largest")
      ->capture_default_str()->check(CLI::IsMember({"centre", "center", "largest"}));
  app.add_option("--no-face", no_face, "when no face is found: skip, or centre-crop (status fallback)")
      ->capture_default_str()->check(CLI::IsMember({"skip", "centre-crop", "center-crop"}));
  app.add_option("--predictor", s.align.predictor, "dlib 68-landmark model")->capture_default_str();
  app.add_option("--format", s.format, "same (keep names, encode by extension) or png (lossless, .png names)")
      ->capture_default_str()->check(CLI::IsMember({"same", "png"}));
  app.add_option("--jpeg-quality", s.jpeg_quality, "quality of JPEG outputs")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_flag("--force", s.force, "re-align images whose output exists");
  app.add_flag("--overwrite", s.overwrite, "replace a --manifest file that is not this tree's align manifest");
  app.add_option("--threads", threads, "worker threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_option("--manifest", manifest, "manifest file (default OUTPUT/align_manifest.jsonl)");
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    // Without a trailing '/', so that image paths relative to them are computed lexically.
    s.input = fs::path(input).lexically_normal();
    s.output = fs::path(output).lexically_normal();
    if (s.input.filename().empty()) s.input = s.input.parent_path();
    if (s.output.filename().empty()) s.output = s.output.parent_path();
    s.manifest = manifest.empty() ? s.output / "align_manifest.jsonl" : fs::path(manifest);
    s.align.templ = face::parse_align_template(templ);
    s.align.landmarks = face::parse_landmark_set(landmarks);
    s.align.pick = face::parse_face_pick(pick);
    s.align.no_face = face::parse_no_face(no_face);
    // Workers align whole images; LibTorch is not used, so its pool stays at one thread.
    s.workers = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    face::configure_threads(1);
    return run(s);
  } catch (const std::exception& e) {
    fmt::print(stderr, "align: error: {}\n", e.what());
    return 1;
  }
}
