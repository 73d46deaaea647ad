#include "deploy/gallery/sqlite_db.h"

#include <fmt/format.h>

namespace face {

SqliteDb::SqliteDb(const std::filesystem::path& path, bool create, int busy_timeout_ms) : path_(path) {
  if (!create && !std::filesystem::exists(path)) fail("gallery '{}' does not exist", path.string());
  if (std::filesystem::is_directory(path)) fail("gallery '{}' is a directory, not a database file", path.string());
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.string().c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    fail("cannot open gallery '{}': {}", path.string(), message);
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

namespace {

bool busy(int code) { return (code & 0xFF) == SQLITE_BUSY || (code & 0xFF) == SQLITE_LOCKED; }

}  // namespace

void SqliteDb::raise(const std::string& what) const {
  std::string message = fmt::format("gallery '{}': {}: {}", path_.string(), what, sqlite3_errmsg(db_));
  if (busy(sqlite3_extended_errcode(db_))) throw DatabaseBusy(message);
  throw Error(message);
}

void SqliteDb::exec(const std::string& sql) {
  char* message = nullptr;
  if (int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message); rc != SQLITE_OK) {
    std::string text = fmt::format("gallery '{}': '{}' failed: {}", path_.string(), sql, message ? message : "unknown error");
    sqlite3_free(message);
    if (busy(rc)) throw DatabaseBusy(text);
    throw Error(text);
  }
}

Statement::Statement(SqliteDb& db, const std::string& sql) : db_(db), sql_(sql) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
    db.raise(fmt::format("cannot prepare '{}'", sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, const std::string& text) {
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    db_.raise("bind failed in '" + sql_ + "'");
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_.raise("bind failed in '" + sql_ + "'");
  return *this;
}

Statement& Statement::bind_blob(int index, const void* data, size_t size) {
  if (sqlite3_bind_blob(stmt_, index, data, static_cast<int>(size), SQLITE_TRANSIENT) != SQLITE_OK)
    db_.raise("bind failed in '" + sql_ + "'");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.raise("'" + sql_ + "' failed");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, column)) : std::string();
}

int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

const void* Statement::blob_data(int column) const { return sqlite3_column_blob(stmt_, column); }
int Statement::blob_size(int column) const { return sqlite3_column_bytes(stmt_, column); }

std::vector<char> Statement::blob(int column) const {
  const char* p = static_cast<const char*>(blob_data(column));
  return std::vector<char>(p, p + blob_size(column));
}

Transaction::Transaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace face
