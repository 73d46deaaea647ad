// cluster_truth.h: the true identities a clustering is scored against (eval/clustering_metrics.h).
//
//   folders  a photo's identity is the name of the folder it is in (LFW's and CelebA's layout);
//            only the face nearest each photo's centre is scored, as those crops centre the
//            labelled person: the other faces in a photo are bystanders of unknown identity,
//            clustered but not scored
//   a file   one label per line, line i for face i (embeddings given directly)
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "deploy/cluster/face_collection.h"
#include "eval/clustering_metrics.h"

namespace face {

struct Truth {
  std::vector<int64_t> faces;   // the scored faces
  std::vector<int64_t> labels;  // their identities, same order
};

Truth truth_from_folders(const FaceCollection& collection);

// requires: the file has exactly `faces` non-empty lines (face::Error naming the file and the
// counts otherwise).
Truth truth_from_file(const std::filesystem::path& file, int64_t faces);

// The scores of `predicted` (one label per face) on the faces `truth` covers.
ClusteringScores score_against(const Truth& truth, const std::vector<int64_t>& predicted);

}  // namespace face
