// gallery.h: the enrolled people and their embeddings, in one SQLite database file.
//
// Schema (version 1, also in PRAGMA user_version; a newer version is refused, not guessed at):
//   meta(key PRIMARY KEY, value)        schema_version, model_fingerprint, embedding_dim,
//                                       model_description, created
//   people(id PRIMARY KEY, name UNIQUE, enrolled_at)
//   embeddings(id PRIMARY KEY, person_id -> people ON DELETE CASCADE, source, vector BLOB)
//     vector: embedding_dim little-endian float32
//
// Crash safety: the database runs in WAL mode with synchronous=FULL; enrolling one person (all
// of their images) is one transaction, so a killed process leaves every person either complete
// or absent, and readers (queries) proceed while a writer enrols.
//
// A gallery belongs to one model: the weights fingerprint of the model that made its embeddings
// is recorded at creation, and opening it with another model is refused (distances between
// embeddings of different models mean nothing).
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "deploy/gallery/sqlite_db.h"

namespace face {

constexpr int64_t kGallerySchemaVersion = 1;

struct GalleryModel {
  std::string fingerprint;  // Embedder::fingerprint()
  int64_t embedding_dim = 0;
  std::string description;
};

struct PersonSummary {
  std::string name;
  int64_t images = 0;
  std::string enrolled_at;
};

// Everything needed to search: row i of `embeddings` belongs to names[person_of_row[i]].
struct GalleryContents {
  torch::Tensor embeddings;    // float (N, D), CPU
  torch::Tensor person_of_row; // int64 (N)
  std::vector<std::string> names;
  std::vector<int64_t> images_per_person;
};

class Gallery {
 public:
  // Opens an existing gallery (face::Error if absent, damaged or of a newer schema).
  // `busy_timeout_ms`: how long a write waits for another process's write lock before failing
  // with DatabaseBusy (sqlite_db.h); reads never wait for a writer (WAL).
  explicit Gallery(const std::filesystem::path& path, int busy_timeout_ms = 10000);
  // Opens the gallery for `model`, creating it when absent; refuses a gallery made by another model.
  Gallery(const std::filesystem::path& path, const GalleryModel& model, int busy_timeout_ms = 10000);

  const GalleryModel& model() const { return model_; }
  // face::Error naming the gallery when its embeddings are of another model (weights
  // fingerprint) or size: one gallery never mixes models.
  void require_model(const GalleryModel& model) const;
  const std::filesystem::path& path() const { return db_->path(); }

  // Adds `embeddings` (n, D) of images `sources` to person `name` (created when new), in one
  // transaction. Returns the person's image count afterwards. A name that person_name.h refuses
  // (not UTF-8, a control character), or embeddings that are not finite, are refused; an embedding equal to one the person already has (the same image
  // again) is not stored, and its source is appended to `duplicates` when given.
  int64_t enroll(const std::string& name, const std::vector<std::string>& sources, const torch::Tensor& embeddings,
                 std::vector<std::string>* duplicates = nullptr);
  bool contains(const std::string& name);
  bool remove(const std::string& name);  // false when there is no such person
  std::vector<PersonSummary> list();
  GalleryContents load();
  // PRAGMA integrity_check's verdict ("ok" when sound).
  std::string integrity_check();
  // PRAGMA data_version: moves whenever another connection (another process, e.g. `identify
  // enroll`) commits to the file, not on this connection's own commits. A long-lived reader
  // (deploy/serve) compares it to know when its search snapshot is stale.
  int64_t data_version();

 private:
  void read_model();
  void check_schema();
  std::unique_ptr<SqliteDb> db_;
  GalleryModel model_;
};

}  // namespace face
