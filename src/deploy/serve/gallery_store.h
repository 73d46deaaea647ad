// gallery_store.h: one gallery file, shared by every request thread of the server.
//
// A Gallery is one SQLite connection, which must not run two transactions at once, so whatever
// touches the file (enrol, remove, list, loading a snapshot) takes the store's mutex: concurrent
// enrolments are serialised, each still one transaction, so a kill loses at most the enrolment
// in progress (gallery.h). Identification searches an immutable snapshot (a Searcher) outside
// the lock; the snapshot is rebuilt by the first search after a change, whether this server made
// it or another process did (`identify enroll` on the same file: Gallery::data_version).
#pragma once
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deploy/gallery/gallery.h"
#include "deploy/gallery/searcher.h"

namespace face::serve {

class GalleryStore {
 public:
  // Opens `path` for `model`, creating it when absent; face::Error when it belongs to another model.
  GalleryStore(std::string name, const std::filesystem::path& path, const GalleryModel& model);

  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }

  // Gallery::enroll / remove / list under the lock.
  int64_t enroll(const std::string& person, const std::vector<std::string>& sources, const torch::Tensor& embeddings,
                 std::vector<std::string>* duplicates);
  bool remove(const std::string& person);
  std::vector<PersonSummary> list();

  // The current snapshot to search (never null; empty when nobody is enrolled).
  std::shared_ptr<const Searcher> searcher();

 private:
  std::string name_;
  std::filesystem::path path_;
  std::mutex mutex_;
  Gallery gallery_;
  std::shared_ptr<const Searcher> snapshot_;
  int64_t changes_ = 0;           // this server's own commits (data_version does not see them)
  int64_t snapshot_changes_ = -1;
  int64_t snapshot_data_version_ = -1;
};

}  // namespace face::serve
