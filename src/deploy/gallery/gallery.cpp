#include "deploy/gallery/gallery.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "deploy/gallery/person_name.h"
#include "util/error.h"
#include "util/run_info.h"

namespace face {

namespace {

void configure(SqliteDb& db) {
  // WAL: readers never block the writer nor see its uncommitted rows. FULL: a commit is on disk
  // before enroll returns. Foreign keys: remove() cascades to the person's embeddings.
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=FULL");
  db.exec("PRAGMA foreign_keys=ON");
}

int64_t user_version(SqliteDb& db) {
  Statement s(db, "PRAGMA user_version");
  return s.step() ? s.integer(0) : 0;
}

}  // namespace

Gallery::Gallery(const std::filesystem::path& path, int busy_timeout_ms)
    : db_(std::make_unique<SqliteDb>(path, false, busy_timeout_ms)) {
  configure(*db_);
  check_schema();
  read_model();
}

Gallery::Gallery(const std::filesystem::path& path, const GalleryModel& model, int busy_timeout_ms)
    : db_(std::make_unique<SqliteDb>(path, true, busy_timeout_ms)) {
  configure(*db_);
  {
    // Creation is one transaction too: a gallery has its schema and model record, or nothing.
    Transaction tx(*db_);
    if (user_version(*db_) == 0) {
      db_->exec(
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
          "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, enrolled_at TEXT NOT NULL);"
          "CREATE TABLE embeddings(id INTEGER PRIMARY KEY,"
          "  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
          "  source TEXT NOT NULL, vector BLOB NOT NULL);"
          "CREATE INDEX embeddings_person ON embeddings(person_id);");
      Statement insert(*db_, "INSERT INTO meta(key, value) VALUES(?, ?)");
      for (const auto& [key, value] : std::map<std::string, std::string>{
               {"schema_version", std::to_string(kGallerySchemaVersion)},
               {"model_fingerprint", model.fingerprint},
               {"embedding_dim", std::to_string(model.embedding_dim)},
               {"model_description", model.description},
               {"created", utc_timestamp()}})
        insert.bind(1, key).bind(2, value).run();
      db_->exec(fmt::format("PRAGMA user_version={}", kGallerySchemaVersion));
    }
    tx.commit();
  }
  check_schema();
  read_model();
  require_model(model);
}

void Gallery::require_model(const GalleryModel& model) const {
  if (model_.fingerprint != model.fingerprint)
    fail("gallery '{}' holds embeddings of model {} ({}), not of the model given, {} ({}); refusing to mix "
         "models: use the same model or a new gallery",
         path().string(), model_.fingerprint, model_.description, model.fingerprint, model.description);
  if (model_.embedding_dim != model.embedding_dim)
    fail("gallery '{}' holds {}-d embeddings, the model gives {}-d", path().string(), model_.embedding_dim,
         model.embedding_dim);
}

void Gallery::check_schema() {
  int64_t version = user_version(*db_);
  if (version == 0) fail("'{}' is not a gallery (no schema; was it created by identify?)", path().string());
  if (version > kGallerySchemaVersion)
    fail("gallery '{}' has schema version {}, newer than this program's {}", path().string(), version,
         kGallerySchemaVersion);
}

void Gallery::read_model() {
  Statement s(*db_, "SELECT key, value FROM meta");
  std::map<std::string, std::string> meta;
  while (s.step()) meta[s.text(0)] = s.text(1);
  for (const char* key : {"model_fingerprint", "embedding_dim"})
    if (!meta.count(key)) fail("gallery '{}': meta table lacks '{}'", path().string(), key);
  model_ = {meta["model_fingerprint"], std::stoll(meta["embedding_dim"]), meta["model_description"]};
}

namespace {

// A name as it can be shown on one line, whatever it holds: control and non-ASCII bytes as \xNN.
std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) out += c < 0x20 || c >= 0x7f ? fmt::format("\\x{:02x}", c) : std::string(1, char(c));
  return out;
}

}  // namespace

int64_t Gallery::enroll(const std::string& name, const std::vector<std::string>& sources,
                        const torch::Tensor& embeddings, std::vector<std::string>* duplicates) {
  if (name.empty()) fail("gallery '{}': a person needs a non-empty name", path().string());
  // `identify list` and every line-based output would fall out of step on a newline or tab, and
  // a name that is not UTF-8 could be neither shown nor typed back to delete it (person_name.h).
  if (std::string problem = person_name_problem(name); !problem.empty())
    fail("gallery '{}': the name '{}' {}: refused", path().string(), printable(name), problem);
  if (embeddings.dim() != 2)
    fail("gallery '{}': '{}': the embeddings are a {}-dimensional tensor, expected rows (images x {})",
         path().string(), name, embeddings.dim(), model_.embedding_dim);
  if (embeddings.size(1) != model_.embedding_dim || embeddings.size(0) != static_cast<int64_t>(sources.size()))
    fail("gallery '{}': '{}': {}-d embeddings of {} rows for {} images (expected {}-d, one per image)", path().string(),
         name, embeddings.size(1), embeddings.size(0), sources.size(), model_.embedding_dim);
  if (!torch::isfinite(embeddings).all().item<bool>())
    fail("gallery '{}': '{}': the embeddings hold NaN or infinite values: refused", path().string(), name);
  torch::Tensor rows = embeddings.to(torch::kCPU, torch::kFloat32).contiguous();
  Transaction tx(*db_);
  Statement find(*db_, "SELECT id FROM people WHERE name = ?");
  find.bind(1, name);
  int64_t person = 0;
  if (find.step()) {
    person = find.integer(0);
  } else {
    Statement add(*db_, "INSERT INTO people(name, enrolled_at) VALUES(?, ?)");
    add.bind(1, name).bind(2, utc_timestamp()).run();
    person = sqlite3_last_insert_rowid(db_->handle());
  }
  // The same image enrolled twice for one person would count twice in every search: an embedding
  // equal to one the person already has (the same image through the same model) is not stored.
  const size_t bytes = static_cast<size_t>(model_.embedding_dim) * sizeof(float);
  std::vector<torch::Tensor> kept;
  Statement existing(*db_, "SELECT vector FROM embeddings WHERE person_id = ?");
  existing.bind(1, person);
  while (existing.step()) {
    auto blob = existing.blob(0);
    if (blob.size() == bytes)
      kept.push_back(torch::from_blob(const_cast<char*>(blob.data()), {model_.embedding_dim}, torch::kFloat32).clone());
  }
  Statement insert(*db_, "INSERT INTO embeddings(person_id, source, vector) VALUES(?, ?, ?)");
  for (size_t i = 0; i < sources.size(); ++i) {
    torch::Tensor row = rows[static_cast<int64_t>(i)];
    bool seen = std::any_of(kept.begin(), kept.end(), [&](const torch::Tensor& k) {
      return (k - row).abs().max().item<float>() <= 1e-6f;
    });
    if (seen) {
      if (duplicates) duplicates->push_back(sources[i]);
      continue;
    }
    kept.push_back(row);
    insert.bind(1, person).bind(2, sources[i]).bind_blob(3, row.data_ptr<float>(), bytes).run();
  }
  Statement count(*db_, "SELECT COUNT(*) FROM embeddings WHERE person_id = ?");
  count.bind(1, person);
  count.step();
  int64_t total = count.integer(0);
  tx.commit();
  return total;
}

bool Gallery::contains(const std::string& name) {
  Statement s(*db_, "SELECT 1 FROM people WHERE name = ?");
  s.bind(1, name);
  return s.step();
}

bool Gallery::remove(const std::string& name) {
  Transaction tx(*db_);
  Statement s(*db_, "DELETE FROM people WHERE name = ?");
  s.bind(1, name).run();
  bool removed = sqlite3_changes(db_->handle()) > 0;
  tx.commit();
  return removed;
}

std::vector<PersonSummary> Gallery::list() {
  Statement s(*db_,
              "SELECT p.name, COUNT(e.id), p.enrolled_at FROM people p LEFT JOIN embeddings e ON e.person_id = p.id "
              "GROUP BY p.id ORDER BY p.name");
  std::vector<PersonSummary> people;
  while (s.step()) people.push_back({s.text(0), s.integer(1), s.text(2)});
  return people;
}

GalleryContents Gallery::load() {
  // One read transaction: a consistent snapshot even while another process enrols.
  db_->exec("BEGIN");
  GalleryContents contents;
  try {
    Statement s(*db_,
                "SELECT p.name, e.vector FROM embeddings e JOIN people p ON p.id = e.person_id ORDER BY p.name, e.id");
    std::vector<float> values;
    std::vector<int64_t> owners;
    const int expected = static_cast<int>(model_.embedding_dim * sizeof(float));
    while (s.step()) {
      std::string name = s.text(0);
      if (contents.names.empty() || contents.names.back() != name) {
        contents.names.push_back(name);
        contents.images_per_person.push_back(0);
      }
      if (s.blob_size(1) != expected)
        fail("gallery '{}': an embedding of '{}' has {} bytes, expected {}", path().string(), name, s.blob_size(1),
             expected);
      const float* v = static_cast<const float*>(s.blob_data(1));
      values.insert(values.end(), v, v + model_.embedding_dim);
      owners.push_back(static_cast<int64_t>(contents.names.size()) - 1);
      ++contents.images_per_person.back();
    }
    db_->exec("COMMIT");
    auto n = static_cast<int64_t>(owners.size());
    contents.embeddings = torch::from_blob(values.data(), {n, model_.embedding_dim}, torch::kFloat32).clone();
    contents.person_of_row = torch::from_blob(owners.data(), {n}, torch::kInt64).clone();
  } catch (...) {
    sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return contents;
}

std::string Gallery::integrity_check() {
  Statement s(*db_, "PRAGMA integrity_check");
  std::string verdict;
  while (s.step()) verdict += (verdict.empty() ? "" : "; ") + s.text(0);
  return verdict;
}

int64_t Gallery::data_version() {
  Statement s(*db_, "PRAGMA data_version");
  return s.step() ? s.integer(0) : 0;
}

}  // namespace face
