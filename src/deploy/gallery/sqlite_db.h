// sqlite_db.h: the little of SQLite the gallery needs, with every failure named.
//
// SqliteDb owns a connection; Statement a prepared statement (bind, step, read columns);
// Transaction is BEGIN IMMEDIATE ... COMMIT, rolled back by its destructor unless committed, so
// an exception or a killed process never leaves half a write. Errors are face::Error naming the
// database file and SQLite's message; DatabaseBusy when the file stayed locked by another
// connection for the whole busy timeout.
#pragma once
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.h"

namespace face {

// The database is locked by another connection (another process holds its write lock) beyond the
// busy timeout: a retry later may succeed, unlike any other failure (deploy/serve answers 503).
struct DatabaseBusy : Error {
  using Error::Error;
};

class SqliteDb {
 public:
  // Opens (creating when `create` is true) the database file; a busy database is retried for
  // `busy_timeout_ms` before failing.
  SqliteDb(const std::filesystem::path& path, bool create, int busy_timeout_ms = 10000);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void exec(const std::string& sql);
  sqlite3* handle() const { return db_; }
  const std::filesystem::path& path() const { return path_; }
  // face::Error with SQLite's message (DatabaseBusy for SQLITE_BUSY / SQLITE_LOCKED).
  [[noreturn]] void raise(const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

class Statement {
 public:
  Statement(SqliteDb& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text);
  Statement& bind(int index, int64_t value);
  Statement& bind_blob(int index, const void* data, size_t size);
  bool step();   // true while a row is available; false when done
  void run();    // step to completion, then reset for reuse
  void reset();

  std::string text(int column) const;
  int64_t integer(int column) const;
  std::vector<char> blob(int column) const;
  const void* blob_data(int column) const;
  int blob_size(int column) const;

 private:
  SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

class Transaction {
 public:
  explicit Transaction(SqliteDb& db);  // BEGIN IMMEDIATE: takes the write lock now
  ~Transaction();                      // ROLLBACK unless committed
  void commit();

 private:
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace face
