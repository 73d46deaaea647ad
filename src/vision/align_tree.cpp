#include "vision/align_tree.h"

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/run_info.h"
#include "vision/image_io.h"

namespace face {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// An existing --manifest file is rewritten only when it is an align manifest of this output tree
// (a resumed run), or with --overwrite: any other file the user names is theirs.
void check_manifest_is_ours(const AlignTreeOptions& s) {
  std::error_code ec;
  if (s.overwrite || !fs::exists(s.manifest, ec)) return;
  std::ifstream in(s.manifest);
  std::string first;
  std::getline(in, first);
  json header = json::parse(first, nullptr, false);
  if (header.is_discarded() || !header.is_object() || header.value("manifest", "") != "align")
    fail("--manifest '{}' exists and is not an align manifest: refusing to overwrite it (pass --overwrite, or "
         "name another file)", s.manifest.string());
  std::string tree = header.value("output", "");
  if (fs::weakly_canonical(tree, ec) != fs::weakly_canonical(s.output, ec))
    fail("--manifest '{}' belongs to another aligned tree ('{}', this run writes '{}'): refusing to overwrite it "
         "(pass --overwrite, or name another file)", s.manifest.string(), tree, s.output.string());
}

// Rows of an earlier manifest by relative path; face::Error if it was written with another recipe.
std::map<std::string, json> previous_rows(const AlignTreeOptions& s) {
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
        fail("'{}' was aligned with recipe {}; this run's is {}: use --force or another output folder",
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
  if (!cv::imencode(ext, bgr, bytes, params)) fail("cannot encode '{}' as {}", path.string(), ext);
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

json align_one(FaceAligner& aligner, const fs::path& source, const fs::path& target, const std::string& relative,
               const AlignTreeOptions& s, bool& write_failed) {
  json row = {{"path", relative}, {"output", target.lexically_relative(s.output).generic_string()}};
  RgbImage image;
  try {
    image = read_rgb(source);
  } catch (const std::exception& e) {
    row["status"] = "failed";
    row["reason"] = e.what();
    return row;
  }
  AlignResult r = aligner.align(image.rgb);
  row["status"] = to_string(r.status);
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
      write_image(target, r.face, s.jpeg_quality);
    } catch (const std::exception& e) {
      row["status"] = "failed";
      row["reason"] = fmt::format("output not written: {}", e.what());
      write_failed = true;
    }
  }
  return row;
}

std::string manifest_text(const AlignTreeOptions& s, const std::vector<json>& rows, const json& counts) {
  json header = {{"manifest", "align"}, {"version", 1},           {"recipe", s.align.recipe()},
                 {"input", s.input.string()}, {"output", s.output.string()},
                 {"run", run_info()}, {"counts", counts}};
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

}  // namespace

OutputFormat parse_output_format(const std::string& name) {
  if (name == "same") return OutputFormat::same;
  if (name == "png") return OutputFormat::png;
  fail("output format '{}': expected same or png", name);
}

AlignTreePlan plan_align_tree(AlignTreeOptions s) {
  // Without a trailing '/', so that image paths relative to them are computed lexically.
  s.input = s.input.lexically_normal();
  s.output = s.output.lexically_normal();
  if (s.input.filename().empty()) s.input = s.input.parent_path();
  if (s.output.filename().empty()) s.output = s.output.parent_path();
  if (s.manifest.empty()) s.manifest = s.output / "align_manifest.jsonl";
  AlignTreePlan plan;
  std::error_code ec;
  if (!fs::is_directory(s.input, ec)) fail("input '{}' is not a directory", s.input.string());
  fs::path output_abs = fs::weakly_canonical(s.output, ec);
  if (output_abs == fs::weakly_canonical(s.input, ec))
    fail("the output folder '{}' is the input folder: aligned faces would replace the originals; name another "
         "output folder", s.output.string());
  for (const auto& file : list_images(s.input, &plan.listing_warnings)) {
    fs::path absolute = fs::weakly_canonical(file, ec);
    auto mismatch = std::mismatch(output_abs.begin(), output_abs.end(), absolute.begin(), absolute.end());
    if (mismatch.first == output_abs.end()) continue;  // an earlier output inside the input tree
    // Lexically: fs::relative would resolve a linked image to its target's path (outside the tree).
    fs::path relative = file.lexically_relative(s.input);
    fs::path target = s.output / relative;
    if (s.format == OutputFormat::png) target.replace_extension(".png");
    plan.sources.push_back(file);
    plan.targets.push_back(target);
    plan.relative.push_back(relative.generic_string());
  }
  if (plan.sources.empty()) {
    plan.options = s;
    return plan;  // the caller reports the listing warnings, then that nothing was found
  }
  check_manifest_is_ours(s);
  fs::create_directories(s.output, ec);
  if (ec) fail("cannot create output folder '{}': {}", s.output.string(), ec.message());
  auto previous = previous_rows(s);
  plan.rows.resize(plan.sources.size());
  for (size_t i = 0; i < plan.sources.size(); ++i) {
    if (!s.force && fs::exists(plan.targets[i], ec)) {
      auto found = previous.find(plan.relative[i]);
      plan.rows[i] = found != previous.end() && found->second.value("status", "") != "failed"
                         ? found->second
                         : json{{"path", plan.relative[i]}, {"status", "kept"},
                                {"output", plan.targets[i].lexically_relative(s.output).generic_string()},
                                {"reason", "output existed; no earlier manifest row"}};
    } else {
      plan.todo.push_back(i);
    }
  }
  plan.options = std::move(s);
  return plan;
}

AlignTreeResult align_tree(const AlignTreePlan& plan, Progress* progress) {
  const AlignTreeOptions& s = plan.options;
  AlignTreeResult result;
  std::vector<json>& rows = result.rows;
  rows = plan.rows;
  const auto& todo = plan.todo;
  std::mutex rows_mutex;
  std::atomic<size_t> next{0}, done{0};
  std::atomic<bool> write_failed{false};
  std::string setup_error;  // a worker's aligner could not be created (e.g. predictor missing)
  std::vector<std::thread> threads;
  for (int w = 0; w < s.workers; ++w) {
    threads.emplace_back([&] {
      // Each worker loads its own detector and ~100 MB landmark model (in parallel with the
      // others), and only once it has an image to align.
      std::unique_ptr<FaceAligner> aligner;
      for (size_t k; (k = next++) < todo.size();) {
        if (!aligner) {
          try {
            aligner = std::make_unique<FaceAligner>(s.align);
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(rows_mutex);
            setup_error = e.what();
            next = todo.size();  // stop every worker
            done = todo.size();
            return;
          }
        }
        bool failed_write = false;
        size_t i = todo[k];
        json row = align_one(*aligner, plan.sources[i], plan.targets[i], plan.relative[i], s, failed_write);
        if (failed_write) write_failed = true;
        {
          std::lock_guard<std::mutex> lock(rows_mutex);
          rows[i] = std::move(row);
        }
        ++done;
      }
    });
  }
  // This thread reports progress and checkpoints the manifest while the workers run.
  size_t reported = 0;
  auto last_save = std::chrono::steady_clock::now();
  while (reported < todo.size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    size_t now_done = done.load();
    if (progress) progress->advance(static_cast<int64_t>(now_done - reported));
    reported = now_done;
    if (std::chrono::steady_clock::now() - last_save > std::chrono::seconds(30) && reported < todo.size()) {
      std::lock_guard<std::mutex> lock(rows_mutex);
      try {
        write_file_atomic(s.manifest, manifest_text(s, rows, count_rows(rows)));
      } catch (const Error& e) {
        fmt::print(stderr, "warning: manifest checkpoint failed: {}\n", e.what());
      }
      last_save = std::chrono::steady_clock::now();
    }
  }
  for (auto& t : threads) t.join();
  if (progress) progress->finish();
  if (!setup_error.empty()) fail("{}", setup_error);

  json counts = count_rows(rows);
  write_file_atomic(s.manifest, manifest_text(s, rows, counts));
  result.write_failed = write_failed;
  result.aligned = counts["aligned"], result.fallback = counts["fallback"], result.failed = counts["failed"],
  result.kept = counts["kept"];
  for (const auto& row : rows) {
    std::string status = row["status"].get<std::string>();
    if (status == "failed" || status == "fallback") ++result.reasons[status + ": " + row.value("reason", "")];
    if (status == "failed" && row.value("reason", "") != "no face detected")
      result.failures.push_back(fmt::format("{}: {}", row["path"].get<std::string>(), row.value("reason", "")));
    if (row.contains("conversion"))
      result.conversions.push_back(
          fmt::format("image '{}' {}", row["path"].get<std::string>(), row["conversion"].get<std::string>()));
  }
  return result;
}

}  // namespace face
