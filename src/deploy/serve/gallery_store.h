// gallery_store.h: one gallery file, shared by every request thread of the server.
//
// A Gallery is one SQLite connection, which must not run two transactions at once, so the store
// holds two: one that writes (enrol, remove), behind its own mutex, so concurrent enrolments are
// serialised, each still one transaction (a kill loses at most the enrolment in progress:
// gallery.h); and one that reads (list, loading a search snapshot), behind another. The file is
// in WAL mode, so a read never waits for a writer, this server's or another process's: while
// `identify enroll` or anything else holds the write lock, listing and identifying go on, and
// a write waits at most `write_wait_ms` before DatabaseBusy (sqlite_db.h; HTTP 503).
// Identification searches an immutable snapshot (a Searcher) outside the locks; it is rebuilt by
// the first search after any commit to the file, by either connection or another process
// (PRAGMA data_version counts every other connection's commits).
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
  GalleryStore(std::string name, const std::filesystem::path& path, const GalleryModel& model,
               int write_wait_ms = 2000);

  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }

  // Gallery::enroll / remove (the writing connection) and list (the reading one).
  int64_t enroll(const std::string& person, const std::vector<std::string>& sources, const torch::Tensor& embeddings,
                 std::vector<std::string>* duplicates);
  bool remove(const std::string& person);
  std::vector<PersonSummary> list();

  // The current snapshot to search (never null; empty when nobody is enrolled).
  std::shared_ptr<const Searcher> searcher();

 private:
  std::string name_;
  std::filesystem::path path_;
  std::mutex write_mutex_, read_mutex_;
  Gallery writer_;
  Gallery reader_;  // opened after writer_, which creates the file
  std::shared_ptr<const Searcher> snapshot_;
  int64_t snapshot_data_version_ = -1;
};

}  // namespace face::serve
