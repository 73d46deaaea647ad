#include "deploy/cluster/cluster_truth.h"

#include <sstream>
#include <unordered_map>

#include "util/atomic_file.h"
#include "util/error.h"

namespace face {

namespace {

int64_t intern(std::unordered_map<std::string, int64_t>& ids, const std::string& name) {
  return ids.emplace(name, static_cast<int64_t>(ids.size())).first->second;
}

}  // namespace

Truth truth_from_folders(const FaceCollection& c) {
  Truth t;
  std::unordered_map<std::string, int64_t> ids;
  for (size_t i = 0; i < c.faces.size(); ++i) {
    const auto& f = c.faces[i];
    if (f.image < 0 || !f.nearest_centre) continue;
    t.faces.push_back(static_cast<int64_t>(i));
    t.labels.push_back(intern(ids, c.images.at(f.image).parent_path().filename().string()));
  }
  return t;
}

Truth truth_from_file(const std::filesystem::path& file, int64_t faces) {
  std::istringstream lines(read_file(file));
  Truth t;
  std::unordered_map<std::string, int64_t> ids;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    t.faces.push_back(static_cast<int64_t>(t.faces.size()));
    t.labels.push_back(intern(ids, line));
  }
  if (static_cast<int64_t>(t.labels.size()) != faces)
    fail("truth file '{}' has {} labels, but there are {} faces (one non-empty line per face)", file.string(),
         t.labels.size(), faces);
  return t;
}

ClusteringScores score_against(const Truth& truth, const std::vector<int64_t>& predicted) {
  std::vector<int64_t> p;
  p.reserve(truth.faces.size());
  for (int64_t f : truth.faces) p.push_back(predicted.at(f));
  return score_clustering(truth.labels, p);
}

}  // namespace face
