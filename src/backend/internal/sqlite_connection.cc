#include "backend/internal/sqlite_connection.h"

#include <cassert>
#include <utility>

#include "common/log.h"

namespace tp::backend_internal {

// ---- Statement ----

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), cached_(other.cached_), bind_rc_(other.bind_rc_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    cached_ = other.cached_;
    bind_rc_ = other.bind_rc_;
  }
  return *this;
}

Statement::~Statement() { release(); }

void Statement::release() {
  if (!stmt_) return;
  if (cached_) {
    // Reset ends any step in progress (which would hold the read lock), and
    // cleared bindings free the bound copies of the last values.
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
}

void Statement::reset() {
  sqlite3_reset(stmt_);  // returns the last step's error, which that step already reported
  bind_rc_ = SQLITE_OK;
}

Statement& Statement::bind_text(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies, so temporaries are safe to pass.
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  // A null data pointer would bind NULL rather than an empty blob.
  int rc = bytes.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                         : sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind_int64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind_optional_int64(int index, std::optional<int64_t> value) {
  if (value) return bind_int64(index, *value);
  int rc = sqlite3_bind_null(stmt_, index);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

int Statement::step() {
  if (bind_rc_ != SQLITE_OK) return bind_rc_;
  return sqlite3_step(stmt_);
}

std::string Statement::column_text(int index) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  int n = sqlite3_column_bytes(stmt_, index);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

std::string Statement::column_blob(int index) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
  int n = sqlite3_column_bytes(stmt_, index);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

int64_t Statement::column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }

bool Statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

// ---- Transaction ----

Transaction::~Transaction() {
  if (!conn_) return;
  // Best effort: if ROLLBACK fails, SQLite has already rolled back on its own.
  sqlite3_exec(conn_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::commit(std::string_view what) {
  assert(conn_ && "commit() called twice");
  SqliteConnection* conn = std::exchange(conn_, nullptr);
  Status s = conn->exec("COMMIT", what);
  if (!s.ok()) sqlite3_exec(conn->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  return s;
}

// ---- SqliteConnection ----

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  // sqlite3_open_v2 hands back a handle even on failure, to read the message from.
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db, path));
  if (rc != SQLITE_OK) return conn->error(rc, "cannot open " + path);
  sqlite3_extended_result_codes(db, 1);
  return conn;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (sqlite3_close_v2(db_) != SQLITE_OK)
    log::warn("backend", "closing the database failed", {{"path", path_}, {"error", sqlite3_errmsg(db_)}});
}

Result<Statement> SqliteConnection::prepare(std::string_view sql, std::string_view what) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, what);
  }
  return Statement(stmt, false);
}

Result<Statement> SqliteConnection::prepare_cached(const std::string& sql, std::string_view what) {
  if (auto it = cache_.find(sql); it != cache_.end()) return Statement(it->second, true);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, what);
  }
  cache_.emplace(sql, stmt);
  return Statement(stmt, true);
}

Status SqliteConnection::exec(const std::string& sql, std::string_view what) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, what);
  return {};
}

Result<Transaction> SqliteConnection::begin(std::string_view what) {
  // IMMEDIATE takes the write lock up front, so a read-then-write transaction
  // cannot fail half-way with SQLITE_BUSY when another process writes.
  TP_CHECK(exec("BEGIN IMMEDIATE", what));
  return Transaction(this);
}

Error SqliteConnection::error(int rc, std::string_view what) const {
  // The connection's message is more specific, but only if it belongs to rc
  // (a failed bind does not set it).
  std::string detail = (db_ && sqlite3_extended_errcode(db_) == rc) ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string hint;
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xFF) {  // the primary result code
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = ErrorCode::kUnavailable;
      hint = "another process holds " + path_ + " locked; retry, or stop the other process using it";
      break;
    case SQLITE_FULL:
      hint = "the disk holding " + path_ + " is full; free some space";
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      hint = "check the data_dir permissions (the teleport user must be able to read and write " + path_ + ")";
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      hint = path_ + " is damaged or not a teleport backend; move it away or restore it from a backup";
      break;
    case SQLITE_IOERR:
      hint = "the disk holding " + path_ + " reported an I/O error; check the system log";
      break;
    default:
      hint = "this is a bug or an unexpected database state; report it with this message";
      break;
  }
  return Error{code, "backend: " + std::string(what) + ": " + detail + "; " + hint};
}

}  // namespace tp::backend_internal
