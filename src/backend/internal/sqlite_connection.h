// Thin RAII over the SQLite C API (https://sqlite.org/cintro.html): one
// connection, its prepared statements and its transactions. Not thread-safe by
// itself: the backend serialises every use behind its own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/result.h"

namespace tp::backend_internal {

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1, as in sqlite3_bind_*. A failed bind is
  // remembered and reported by the next step().
  Statement& bind_text(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_int64(int index, int64_t value);
  Statement& bind_optional_int64(int index, std::optional<int64_t> value);

  // SQLITE_ROW, SQLITE_DONE, or an (extended) error code.
  int step();
  // Makes the statement ready to step again from the start, keeping its bindings (rebind what
  // changes): one prepared INSERT runs once per row of a batch.
  void reset();

  std::string column_text(int index) const;
  std::string column_blob(int index) const;
  int64_t column_int64(int index) const;
  bool column_is_null(int index) const;

 private:
  friend class SqliteConnection;
  Statement(sqlite3_stmt* stmt, bool cached) : stmt_(stmt), cached_(cached) {}
  void release();  // finalises, or resets a cached statement for its next use

  sqlite3_stmt* stmt_ = nullptr;
  bool cached_ = false;  // owned by the connection's cache: reset, never finalised
  int bind_rc_ = SQLITE_OK;
};

class SqliteConnection;

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  // `what` names the operation for the error message.
  Status commit(std::string_view what);

 private:
  friend class SqliteConnection;
  explicit Transaction(SqliteConnection* conn) : conn_(conn) {}

  SqliteConnection* conn_;
};

class SqliteConnection {
 public:
  // path is a file name or ":memory:". The file is created when missing.
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // `what` names the operation for the error message, e.g. "cannot put /users/alice".
  Result<Statement> prepare(std::string_view sql, std::string_view what);
  // The same, for SQL the backend runs again and again: compiled once and kept
  // by the connection; the Statement resets it when it goes out of scope. One
  // Statement per SQL text may be alive at a time.
  Result<Statement> prepare_cached(const std::string& sql, std::string_view what);
  // Runs one or more statements that return no rows.
  Status exec(const std::string& sql, std::string_view what);
  Result<Transaction> begin(std::string_view what);

  // "backend: <what>: <sqlite message>; <what to do>". Busy and locked map to
  // kUnavailable (retrying may help); everything else to kInternal.
  Error error(int rc, std::string_view what) const;

 private:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace tp::backend_internal
