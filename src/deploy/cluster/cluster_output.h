// cluster_output.h: what the cluster tool writes into its output folder.
//
//   DIR/.face-cluster   marks the folder as the tool's own: a later run may replace what is here
//   DIR/clusters.json   the result (cluster_report below), written atomically
//   DIR/faces/          with --crops: every face's aligned crop, NNNNNNN.jpg by face number
//   DIR/clusters/NNNN/  with --crops: cluster NNNN's crops (hard links into faces/, or copies
//                       where the file system has none), NNNN = the cluster's rank by size
//   DIR/.cache/         the resume state of the face pass (face_collection.h)
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "deploy/cluster/face_collection.h"

namespace face {

// Makes `dir` the tool's output folder. ensures: dir exists and is marked. A folder that exists,
// is not empty and is not marked is refused (face::Error naming it) unless `overwrite`; a path
// that exists and is not a folder is always refused.
void claim_output_dir(const std::filesystem::path& dir, bool overwrite);

// The result as JSON: {"clusters": [{"id", "size", "faces": [{"face", "image", "box", "crop",
// "nearest_centre"}]}], "unreadable": [{"image", "reason"}], "no_face": [...], "counts": {...},
// "run": run}. Clusters are ordered by size (largest first), ids are those ranks; faces keep
// collection order. A face with image < 0 (embeddings given directly) has no image or box.
// requires: labels.size() == collection.faces.size().
nlohmann::json cluster_report(const FaceCollection& collection, const std::vector<int64_t>& labels,
                              const nlohmann::json& run);

// Writes report["clusters"] as DIR/clusters/NNNN/ folders of the faces' crops (replacing any
// earlier DIR/clusters), then clusters.json atomically.
void write_cluster_output(const std::filesystem::path& dir, const nlohmann::json& report, bool crops);

}  // namespace face
