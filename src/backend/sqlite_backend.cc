// The SQLite implementation of Backend (DESIGN section 5): one connection in
// WAL mode behind a mutex. The service has few writers, so serialising them
// costs little and keeps revisions and watch events in commit order.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <thread>

#include "backend/backend.h"
#include "common/thread_name.h"
#include "backend/internal/event_fanout.h"
#include "backend/internal/key_range.h"
#include "backend/internal/sqlite_backend.h"
#include "backend/internal/sqlite_connection.h"
#include "common/files.h"
#include "common/log.h"

namespace tp {
namespace backend_internal {
namespace {

using std::chrono::milliseconds;

// Step i moves the schema from version i to i + 1 (PRAGMA user_version).
// Append new steps; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    // 0 -> 1: items keyed by path; meta holds the revision counter.
    "CREATE TABLE items ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value BLOB NOT NULL,"
    "  expires INTEGER,"  // unix milliseconds; NULL: never expires
    "  revision INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX items_by_expiry ON items(expires) WHERE expires IS NOT NULL;"
    "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(name, value) VALUES ('revision', 0);",
    // 1 -> 2: the audit log moves from items under /events/ to a table of its own, in arrival order.
    // An event's time is its "time" field, else when it arrived (the key's nanoseconds).
    "CREATE TABLE audit_events ("
    "  id INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"  // the event's time, unix seconds
    "  type TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  body TEXT NOT NULL"
    ");"
    "CREATE INDEX audit_events_by_time ON audit_events(time);"
    "INSERT INTO audit_events(time, type, user, body) "
    "  SELECT coalesce(CASE WHEN json_valid(body) AND json_type(body, '$.time') = 'text' "
    "                       THEN CAST(strftime('%s', json_extract(body, '$.time')) AS INTEGER) END,"
    "                  CAST(substr(key, 9, 20) AS INTEGER) / 1000000000),"
    "         coalesce(CASE WHEN json_valid(body) AND json_type(body, '$.event') = 'text' "
    "                       THEN json_extract(body, '$.event') END, ''),"
    "         coalesce(CASE WHEN json_valid(body) AND json_type(body, '$.user') = 'text' "
    "                       THEN json_extract(body, '$.user') END, ''),"
    "         body"
    "  FROM (SELECT key, CAST(value AS TEXT) AS body FROM items"
    "        WHERE key >= '/events/' AND key < '/events0' ORDER BY key);"
    "DELETE FROM items WHERE key >= '/events/' AND key < '/events0';",
};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration step per schema version");

int64_t to_unix_ms(TimePoint t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

TimePoint from_unix_ms(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(milliseconds(ms)));
}

// An empty key could not be told apart from "everything" in a prefix scan.
Status check_key(const std::string& key, std::string_view op) {
  if (key.empty())
    return invalid_argument("backend: " + std::string(op) +
                            " with an empty key; keys are paths such as /users/alice");
  return {};
}

// "key >= ?1 AND key < ?2", or only the lower bound when no upper bound exists.
std::string key_range_condition(const std::optional<std::string>& upper) {
  return upper ? "key >= ?1 AND key < ?2" : "key >= ?1";
}

Item item_from_row(Statement& row) {  // columns: key, value, expires, revision
  Item item;
  item.key = row.column_text(0);
  item.value = row.column_blob(1);
  if (!row.column_is_null(2)) item.expires = from_unix_ms(row.column_int64(2));
  item.revision = row.column_int64(3);
  return item;
}

class SqliteBackend final : public Backend {
 public:
  SqliteBackend(std::unique_ptr<SqliteConnection> conn, const Clock& clock, size_t watch_queue_capacity)
      : conn_(std::move(conn)), clock_(clock), fanout_(watch_queue_capacity) {}

  ~SqliteBackend() override {
    {
      std::lock_guard lock(purge_mu_);
      stopping_ = true;
    }
    purge_wake_.notify_all();
    if (purger_.joinable()) purger_.join();
    fanout_.close();
  }

  Status configure();
  void start_purging(milliseconds interval);

  Result<Item> get(const std::string& key) override;
  Result<Item> put(Item item) override;
  Result<Item> create(Item item) override;
  Result<Item> compare_and_swap(const std::string& expected_value, Item replacement) override;
  Status remove(const std::string& key) override;
  Result<std::vector<Item>> range(const std::string& prefix, size_t limit) override;
  Status remove_range(const std::string& prefix) override;
  std::unique_ptr<Watcher> watch(const std::string& prefix) override { return fanout_.subscribe(prefix); }
  Status purge_expired() override;
  Status append_audit_events(const std::vector<AuditRecord>& records) override;
  Result<std::vector<AuditRecord>> search_audit_events(const AuditQuery& query) override;

 private:
  Status migrate();
  Result<std::string> switch_to_wal(std::string_view what);
  // Each helper returns with its statement finalised: a statement left
  // mid-step would make the next COMMIT fail with SQLITE_BUSY.
  Result<int64_t> read_schema_version(std::string_view what);
  int64_t now_ms() const { return to_unix_ms(clock_.now()); }

  // The helpers below run inside a transaction the caller holds, under mu_.
  // Takes n consecutive revisions from the counter; returns the first.
  Result<int64_t> reserve_revisions(int64_t n, std::string_view what);
  Result<std::optional<Item>> read_visible(const std::string& key, std::string_view what);
  // Inserts or replaces; returns the item as stored (revision set, expiry in ms).
  Result<Item> write_item(Item item, std::string_view what);
  // Runs a DELETE ... RETURNING key and turns the keys into delete events.
  Result<std::vector<Event>> delete_returning_keys(Statement& stmt, std::string_view what);

  std::mutex mu_;  // serialises use of conn_; held across commit and publish
  std::unique_ptr<SqliteConnection> conn_;
  const Clock& clock_;
  EventFanout fanout_;

  std::mutex purge_mu_;
  std::condition_variable purge_wake_;
  bool stopping_ = false;
  std::thread purger_;
};

Status SqliteBackend::configure() {
  const std::string what = "cannot open " + conn_->path();
  // busy_timeout first, so that switching to WAL waits for other processes.
  TP_CHECK(conn_->exec("PRAGMA busy_timeout = 5000", what));
  // 16 KiB pages for a new database (SQLite fixes the size when it first writes the file, here the
  // switch to WAL; an existing database keeps its own). Most writes are audit events, ~0.5 KiB
  // each and hundreds per transaction: `bench/audit-insert` stores them for 3.5 µs of CPU each with
  // 4 KiB pages and 2.3 µs with 16 KiB (fewer pages to split, index and append to the WAL per
  // event), counting the ~1 µs of the Python loop that drives it.
  TP_CHECK(conn_->exec("PRAGMA page_size = 16384", what));
  TP_TRY(const std::string mode, switch_to_wal(what));
  // An in-memory database reports "memory"; a file system without shared
  // memory support keeps the old mode, which still works, only slower.
  if (mode != "wal" && conn_->path() != ":memory:")
    log::warn("backend", "WAL journal mode unavailable; readers will block writers",
              {{"path", conn_->path()}, {"journal_mode", mode}});
  TP_CHECK(conn_->exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", what));
  return migrate();
}

Status SqliteBackend::migrate() {
  const std::string what = "cannot migrate the schema of " + conn_->path();
  for (;;) {
    // The version is read inside the write transaction, so two processes
    // opening a new database at once do not both run the same step.
    TP_TRY(Transaction txn, conn_->begin(what));
    TP_TRY(const int64_t version, read_schema_version(what));
    if (version == kSchemaVersion) return {};
    if (version > kSchemaVersion || version < 0)
      return invalid_argument("backend: " + conn_->path() + " has schema version " + std::to_string(version) +
                              " but this teleport understands up to " + std::to_string(kSchemaVersion) +
                              "; run the newer teleport that wrote it, or restore a backup");
    TP_CHECK(conn_->exec(kMigrations[version], what));
    TP_CHECK(conn_->exec("PRAGMA user_version = " + std::to_string(version + 1), what));
    TP_CHECK(txn.commit(what));
    log::info("backend", "migrated the schema",
              {{"path", conn_->path()}, {"version", std::to_string(version + 1)}});
  }
}

Result<std::string> SqliteBackend::switch_to_wal(std::string_view what) {
  TP_TRY(Statement stmt, conn_->prepare("PRAGMA journal_mode = WAL", what));
  if (int rc = stmt.step(); rc != SQLITE_ROW) return conn_->error(rc, what);
  return stmt.column_text(0);  // the mode now in effect
}

Result<int64_t> SqliteBackend::read_schema_version(std::string_view what) {
  TP_TRY(Statement query, conn_->prepare("PRAGMA user_version", what));
  if (int rc = query.step(); rc != SQLITE_ROW) return conn_->error(rc, what);
  return query.column_int64(0);
}

void SqliteBackend::start_purging(milliseconds interval) {
  purger_ = std::thread([this, interval] {
    set_thread_name("tp-sqlite-purge");
    std::unique_lock lock(purge_mu_);
    while (!purge_wake_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      if (Status s = purge_expired(); !s.ok())
        log::warn("backend", "purging expired items failed; will retry", {{"error", s.error().message}});
      lock.lock();
    }
  });
}

Result<int64_t> SqliteBackend::reserve_revisions(int64_t n, std::string_view what) {
  TP_TRY(Statement stmt,
         conn_->prepare_cached("UPDATE meta SET value = value + ?1 WHERE name = 'revision' RETURNING value", what));
  stmt.bind_int64(1, n);
  int rc = stmt.step();
  if (rc == SQLITE_DONE)
    return internal_error("backend: " + std::string(what) + ": the revision counter is missing from " +
                          conn_->path() + "; the file was changed outside teleport, restore it from a backup");
  if (rc != SQLITE_ROW) return conn_->error(rc, what);
  const int64_t last = stmt.column_int64(0);
  if (rc = stmt.step(); rc != SQLITE_DONE) return conn_->error(rc, what);
  return last - n + 1;
}

Result<std::optional<Item>> SqliteBackend::read_visible(const std::string& key, std::string_view what) {
  TP_TRY(Statement stmt, conn_->prepare_cached("SELECT key, value, expires, revision FROM items "
                                        "WHERE key = ?1 AND (expires IS NULL OR expires > ?2)",
                                        what));
  stmt.bind_text(1, key).bind_int64(2, now_ms());
  int rc = stmt.step();
  if (rc == SQLITE_DONE) return std::optional<Item>();
  if (rc != SQLITE_ROW) return conn_->error(rc, what);
  return std::optional<Item>(item_from_row(stmt));
}

Result<Item> SqliteBackend::write_item(Item item, std::string_view what) {
  TP_TRY(const int64_t revision, reserve_revisions(1, what));
  std::optional<int64_t> expires_ms;
  if (item.expires) {
    expires_ms = to_unix_ms(*item.expires);
    item.expires = from_unix_ms(*expires_ms);  // report what a later get() will see
  }
  TP_TRY(Statement stmt, conn_->prepare_cached("INSERT INTO items(key, value, expires, revision) VALUES (?1, ?2, ?3, ?4) "
                                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                                        "expires = excluded.expires, revision = excluded.revision",
                                        what));
  stmt.bind_text(1, item.key).bind_blob(2, item.value).bind_optional_int64(3, expires_ms).bind_int64(4, revision);
  if (int rc = stmt.step(); rc != SQLITE_DONE) return conn_->error(rc, what);
  item.revision = revision;
  return item;
}

Result<std::vector<Event>> SqliteBackend::delete_returning_keys(Statement& stmt, std::string_view what) {
  std::vector<Event> events;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    Event e;
    e.type = EventType::kDelete;
    e.item.key = stmt.column_text(0);
    events.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return conn_->error(rc, what);
  if (events.empty()) return events;
  // RETURNING gives no order; key order makes batch deletes deterministic.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.item.key < b.item.key; });
  TP_TRY(int64_t revision, reserve_revisions(static_cast<int64_t>(events.size()), what));
  for (Event& e : events) e.item.revision = revision++;
  return events;
}

Result<Item> SqliteBackend::get(const std::string& key) {
  TP_CHECK(check_key(key, "get"));
  const std::string what = "cannot get " + key;
  std::lock_guard lock(mu_);
  TP_TRY(std::optional<Item> item, read_visible(key, what));
  if (!item) return not_found("backend: " + key + " not found");
  return std::move(*item);
}

Result<Item> SqliteBackend::put(Item item) {
  TP_CHECK(check_key(item.key, "put"));
  const std::string what = "cannot put " + item.key;
  std::lock_guard lock(mu_);
  TP_TRY(Transaction txn, conn_->begin(what));
  TP_TRY(Item stored, write_item(std::move(item), what));
  TP_CHECK(txn.commit(what));
  fanout_.publish({Event{EventType::kPut, stored}});
  return stored;
}

Result<Item> SqliteBackend::create(Item item) {
  TP_CHECK(check_key(item.key, "create"));
  const std::string what = "cannot create " + item.key;
  std::lock_guard lock(mu_);
  TP_TRY(Transaction txn, conn_->begin(what));
  TP_TRY(std::optional<Item> existing, read_visible(item.key, what));
  if (existing)
    return already_exists("backend: " + item.key +
                          " already exists; use put to replace it, or compare_and_swap to change it safely");
  TP_TRY(Item stored, write_item(std::move(item), what));  // replaces an expired row, if any
  TP_CHECK(txn.commit(what));
  fanout_.publish({Event{EventType::kPut, stored}});
  return stored;
}

Result<Item> SqliteBackend::compare_and_swap(const std::string& expected_value, Item replacement) {
  TP_CHECK(check_key(replacement.key, "compare_and_swap"));
  const std::string what = "cannot compare_and_swap " + replacement.key;
  std::lock_guard lock(mu_);
  TP_TRY(Transaction txn, conn_->begin(what));
  TP_TRY(std::optional<Item> current, read_visible(replacement.key, what));
  if (!current) return not_found("backend: " + replacement.key + " not found (absent or expired); create it first");
  if (current->value != expected_value)
    return compare_failed("backend: " + replacement.key + " changed since it was read; read it again and retry");
  TP_TRY(Item stored, write_item(std::move(replacement), what));
  TP_CHECK(txn.commit(what));
  fanout_.publish({Event{EventType::kPut, stored}});
  return stored;
}

Status SqliteBackend::remove(const std::string& key) {
  TP_CHECK(check_key(key, "remove"));
  const std::string what = "cannot remove " + key;
  std::lock_guard lock(mu_);
  TP_TRY(Transaction txn, conn_->begin(what));
  // Expired rows are left for purge_expired, which announces their deletion.
  TP_TRY(Statement stmt, conn_->prepare_cached("DELETE FROM items WHERE key = ?1 "
                                        "AND (expires IS NULL OR expires > ?2) RETURNING key",
                                        what));
  stmt.bind_text(1, key).bind_int64(2, now_ms());
  TP_TRY(std::vector<Event> events, delete_returning_keys(stmt, what));
  if (events.empty()) return not_found("backend: " + key + " not found (absent or expired)");
  TP_CHECK(txn.commit(what));
  fanout_.publish(events);
  return {};
}

Result<std::vector<Item>> SqliteBackend::range(const std::string& prefix, size_t limit) {
  const std::string what = "cannot list keys under " + prefix;
  const std::optional<std::string> upper = prefix_upper_bound(prefix);
  std::lock_guard lock(mu_);
  TP_TRY(Statement stmt, conn_->prepare_cached("SELECT key, value, expires, revision FROM items WHERE " +
                                            key_range_condition(upper) +
                                            " AND (expires IS NULL OR expires > ?3) ORDER BY key LIMIT ?4",
                                        what));
  stmt.bind_text(1, prefix);
  if (upper) stmt.bind_text(2, *upper);
  // LIMIT -1 is SQLite's "no limit".
  stmt.bind_int64(3, now_ms()).bind_int64(4, limit == 0 ? -1 : static_cast<int64_t>(limit));
  std::vector<Item> items;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) items.push_back(item_from_row(stmt));
  if (rc != SQLITE_DONE) return conn_->error(rc, what);
  return items;
}

Status SqliteBackend::remove_range(const std::string& prefix) {
  const std::string what = "cannot remove keys under " + prefix;
  const std::optional<std::string> upper = prefix_upper_bound(prefix);
  std::lock_guard lock(mu_);
  TP_TRY(Transaction txn, conn_->begin(what));
  TP_TRY(Statement stmt, conn_->prepare_cached("DELETE FROM items WHERE " + key_range_condition(upper) +
                                            " AND (expires IS NULL OR expires > ?3) RETURNING key",
                                        what));
  stmt.bind_text(1, prefix);
  if (upper) stmt.bind_text(2, *upper);
  stmt.bind_int64(3, now_ms());
  TP_TRY(std::vector<Event> events, delete_returning_keys(stmt, what));
  TP_CHECK(txn.commit(what));
  fanout_.publish(events);
  return {};
}

Status SqliteBackend::purge_expired() {
  const std::string what = "cannot purge expired items";
  std::lock_guard lock(mu_);
  TP_TRY(Transaction txn, conn_->begin(what));
  TP_TRY(Statement stmt, conn_->prepare_cached("DELETE FROM items WHERE expires IS NOT NULL AND expires <= ?1 "
                                        "RETURNING key",
                                        what));
  stmt.bind_int64(1, now_ms());
  TP_TRY(std::vector<Event> events, delete_returning_keys(stmt, what));
  TP_CHECK(txn.commit(what));
  fanout_.publish(events);
  return {};
}

Status SqliteBackend::append_audit_events(const std::vector<AuditRecord>& records) {
  if (records.empty()) return {};
  const std::string what = "cannot store " + std::to_string(records.size()) + " audit events";
  std::lock_guard lock(mu_);
  TP_TRY(Transaction txn, conn_->begin(what));
  {
    TP_TRY(Statement stmt,
           conn_->prepare_cached("INSERT INTO audit_events(time, type, user, body) VALUES (?1, ?2, ?3, ?4)",
                                 what));
    for (const AuditRecord& r : records) {
      stmt.reset();
      stmt.bind_int64(1, to_unix_seconds(r.time))
          .bind_text(2, r.type)
          .bind_text(3, r.user)
          .bind_text(4, r.text);
      if (int rc = stmt.step(); rc != SQLITE_DONE) return conn_->error(rc, what);
    }
  }  // the statement is reset before the commit, which one left mid-step would make fail
  return txn.commit(what);
}

Result<std::vector<AuditRecord>> SqliteBackend::search_audit_events(const AuditQuery& query) {
  const std::string what = "cannot search the audit log";
  // Only the conditions asked for, so that "the newest N" walks ids backwards and stops, and a
  // time range uses the time index.
  std::string sql = "SELECT id, time, type, user, body FROM audit_events WHERE 1";
  if (!query.type.empty()) sql += " AND type = ?1";
  if (!query.user.empty()) sql += " AND user = ?2";
  if (query.from) sql += " AND time >= ?3";
  if (query.to) sql += " AND time <= ?4";
  sql += " ORDER BY id DESC LIMIT ?5";
  std::lock_guard lock(mu_);
  TP_TRY(Statement stmt, conn_->prepare_cached(sql, what));
  if (!query.type.empty()) stmt.bind_text(1, query.type);
  if (!query.user.empty()) stmt.bind_text(2, query.user);
  if (query.from) stmt.bind_int64(3, to_unix_seconds(*query.from));
  if (query.to) stmt.bind_int64(4, to_unix_seconds(*query.to));
  stmt.bind_int64(5, query.limit == 0 ? -1 : static_cast<int64_t>(query.limit));  // -1: no limit
  std::vector<AuditRecord> records;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    AuditRecord& r = records.emplace_back();
    r.id = stmt.column_int64(0);
    r.time = from_unix_seconds(stmt.column_int64(1));
    r.type = stmt.column_text(2);
    r.user = stmt.column_text(3);
    r.text = stmt.column_text(4);
  }
  if (rc != SQLITE_DONE) return conn_->error(rc, what);
  std::reverse(records.begin(), records.end());
  return records;
}

}  // namespace

Result<std::unique_ptr<Backend>> open_sqlite_database(const std::string& db_path, const Clock& clock,
                                                      const SqliteBackendOptions& options) {
  TP_TRY(std::unique_ptr<SqliteConnection> conn, SqliteConnection::open(db_path));
  auto backend = std::make_unique<SqliteBackend>(std::move(conn), clock, options.watch_queue_capacity);
  TP_CHECK(backend->configure());
  if (options.purge_interval.count() > 0) backend->start_purging(options.purge_interval);
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace backend_internal

Result<std::unique_ptr<Backend>> open_sqlite_backend(const std::string& data_dir, const Clock& clock) {
  if (data_dir.empty())
    return invalid_argument("backend: data_dir is empty; set teleport.data_dir in the config");
  if (!file_exists(data_dir)) {
    Status made = make_dirs(data_dir, 0700);
    if (!made.ok())
      return Error{made.error().code, "backend: " + made.error().message +
                                          "; check that the parent folder is writable, or choose another data_dir"};
  }
  const std::string path = (std::filesystem::path(data_dir) / "backend.db").string();
  // Create the file ourselves so that it is private: SQLite would honour the
  // umask (often 0644), and its -wal and -shm files copy the database's mode.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return internal_error("backend: cannot open " + path + ": " + std::strerror(errno) +
                          "; check the data_dir permissions");
  ::close(fd);
  return backend_internal::open_sqlite_database(path, clock, {});
}

Result<std::unique_ptr<Backend>> open_memory_backend(const Clock& clock) {
  return backend_internal::open_sqlite_database(":memory:", clock, {});
}

}  // namespace tp
