#include "deploy/cluster/cluster_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "eval/cluster_labels.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace face {

namespace fs = std::filesystem;

namespace {
constexpr const char* kMarker = ".face-cluster";
}

void claim_output_dir(const fs::path& dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    fail("--out '{}' exists and is not a folder: refusing to replace it", dir.string());
  if (fs::is_directory(dir, ec) && !fs::exists(dir / kMarker, ec) && !fs::is_empty(dir, ec) && !overwrite)
    fail("--out '{}' is a folder this tool did not write (no {} in it): pass --overwrite to write into it anyway, "
         "or choose another folder",
         dir.string(), kMarker);
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create the output folder '{}': {}", dir.string(), ec.message());
  write_file_atomic(dir / kMarker, "face-cluster output: a later cluster run may replace the files here\n");
}

nlohmann::json cluster_report(const FaceCollection& c, const std::vector<int64_t>& labels, const nlohmann::json& run) {
  if (labels.size() != c.faces.size()) fail("cluster_report: {} labels for {} faces", labels.size(), c.faces.size());
  const std::vector<std::vector<int64_t>> order = clusters_by_size(labels);
  nlohmann::json clusters = nlohmann::json::array();
  int64_t singletons = 0;
  for (size_t id = 0; id < order.size(); ++id) {
    nlohmann::json faces = nlohmann::json::array();
    for (int64_t i : order[id]) {
      const CollectedFace& f = c.faces[i];
      nlohmann::json face{{"face", i}};
      if (f.image >= 0) {
        face["image"] = c.images.at(f.image).string();
        if (!f.box.empty()) face["box"] = {f.box.x, f.box.y, f.box.width, f.box.height};
        face["nearest_centre"] = f.nearest_centre;
      }
      if (!f.crop.empty()) face["crop"] = f.crop;
      faces.push_back(face);
    }
    singletons += order[id].size() == 1;
    clusters.push_back({{"id", id}, {"size", order[id].size()}, {"faces", faces}});
  }
  nlohmann::json unreadable = nlohmann::json::array(), no_face = nlohmann::json::array();
  for (size_t i = 0; i < c.unreadable.size(); ++i)
    if (!c.unreadable[i].empty()) unreadable.push_back({{"image", c.images[i].string()}, {"reason", c.unreadable[i]}});
  for (int64_t i : c.no_face) no_face.push_back(c.images.at(i).string());
  return {{"tool", "cluster"},
          {"version", 1},
          {"run", run},
          {"counts",
           {{"images", c.images.size()},
            {"unreadable", unreadable.size()},
            {"no_face", no_face.size()},
            {"faces", c.faces.size()},
            {"clusters", order.size()},
            {"singletons", singletons}}},
          {"clusters", clusters},
          {"unreadable", unreadable},
          {"no_face", no_face}};
}

void write_cluster_output(const fs::path& dir, const nlohmann::json& report, bool crops) {
  if (crops) {
    std::error_code ec;
    fs::remove_all(dir / "clusters", ec);  // ours (claim_output_dir): the previous run's grouping
    if (ec) fail("cannot replace '{}': {}", (dir / "clusters").string(), ec.message());
    for (const auto& cluster : report.at("clusters")) {
      fs::path folder = dir / "clusters" / fmt::format("{:04d}", cluster.at("id").get<int64_t>());
      fs::create_directories(folder);
      for (const auto& face : cluster.at("faces")) {
        if (!face.contains("crop")) continue;
        fs::path from = dir / face.at("crop").get<std::string>(), to = folder / from.filename();
        fs::create_hard_link(from, to, ec);
        if (ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
        if (ec) fail("cannot place the crop '{}' in '{}': {}", from.string(), folder.string(), ec.message());
      }
    }
  }
  write_file_atomic(dir / "clusters.json", report.dump(1) + "\n");
}

}  // namespace face
