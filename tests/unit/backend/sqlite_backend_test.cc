// The SQLite backend: the shared contract against both its modes, then what is
// particular to SQLite (files, permissions, schema version, watch overflow).
#include "backend/internal/sqlite_backend.h"

#include <gmock/gmock.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "backend_contract.h"
#include "temp_dir.h"

namespace tp::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MemoryHarness final : public BackendHarness {
 public:
  Result<std::unique_ptr<Backend>> open(const Clock& clock) override { return open_memory_backend(clock); }
  bool persistent() const override { return false; }
};

class FileHarness final : public BackendHarness {
 public:
  Result<std::unique_ptr<Backend>> open(const Clock& clock) override {
    return open_sqlite_backend(dir_.file("data"), clock);
  }
  bool persistent() const override { return true; }

 private:
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(
    Sqlite, BackendContractTest,
    ::testing::Values(BackendFactory{"memory", [] { return std::make_unique<MemoryHarness>(); }},
                      BackendFactory{"file", [] { return std::make_unique<FileHarness>(); }}),
    backend_factory_name);

Item make_item(std::string key, std::string value) {
  Item item;
  item.key = std::move(key);
  item.value = std::move(value);
  return item;
}

unsigned mode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// Runs one statement on the database file behind the backend's back.
int64_t query_int(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

// Runs statements on the database file behind the backend's back.
void exec_sql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

TEST(SqliteBackend, CreatesAPrivateDataDirAndDatabase) {
  TempDir tmp;
  const std::string data_dir = tmp.file("nested/data");
  FakeClock clock(from_unix_seconds(1'700'000'000));
  auto backend = open_sqlite_backend(data_dir, clock);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  ASSERT_TRUE((*backend)->put(make_item("/k", "v")).ok());
  EXPECT_EQ(mode_of(data_dir), 0700u);
  EXPECT_EQ(mode_of(data_dir + "/backend.db"), 0600u);
}

TEST(SqliteBackend, LeavesAnExistingDataDirModeAlone) {
  TempDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0750), 0);
  FakeClock clock(from_unix_seconds(1'700'000'000));
  ASSERT_TRUE(open_sqlite_backend(tmp.path(), clock).ok());
  EXPECT_EQ(mode_of(tmp.path()), 0750u);
}

TEST(SqliteBackend, UsesWalAndRecordsTheSchemaVersion) {
  TempDir tmp;
  FakeClock clock(from_unix_seconds(1'700'000'000));
  {
    auto backend = open_sqlite_backend(tmp.path(), clock);
    ASSERT_TRUE(backend.ok()) << backend.error().message;
  }
  const std::string db = tmp.file("backend.db");
  EXPECT_EQ(query_int(db, "PRAGMA user_version"), backend_internal::kSchemaVersion);
  // WAL mode is stored in the file, so a fresh connection reports it.
  EXPECT_EQ(query_int(db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
  EXPECT_EQ(query_int(db, "SELECT value FROM meta WHERE name = 'revision'"), 0);
}

TEST(SqliteBackend, ANewDatabaseUses16KiBPagesAndAnOldOneKeepsItsOwn) {
  TempDir tmp;
  FakeClock clock(from_unix_seconds(1'700'000'000));
  ASSERT_TRUE(open_sqlite_backend(tmp.path(), clock).ok());
  EXPECT_EQ(query_int(tmp.file("backend.db"), "PRAGMA page_size"), 16384);

  // A database written before (4 KiB pages, WAL): it opens, works, and keeps its pages.
  TempDir old;
  exec_sql(old.file("backend.db"), "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t(x)");
  {
    auto backend = open_sqlite_backend(old.path(), clock);
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    ASSERT_TRUE((*backend)->put(make_item("/k", "v")).ok());
    AuditRecord r;
    r.type = "db.session.query";
    r.user = "alice";
    r.time = from_unix_seconds(1'700'000'000);
    r.text = R"({"event":"db.session.query"})";
    ASSERT_TRUE((*backend)->append_audit_events({r}).ok());
  }
  EXPECT_EQ(query_int(old.file("backend.db"), "PRAGMA page_size"), 4096);
  EXPECT_EQ(query_int(old.file("backend.db"), "SELECT count(*) FROM audit_events"), 1);
}

TEST(SqliteBackend, RefusesASchemaNewerThanItKnows) {
  TempDir tmp;
  FakeClock clock(from_unix_seconds(1'700'000'000));
  ASSERT_TRUE(open_sqlite_backend(tmp.path(), clock).ok());
  query_int(tmp.file("backend.db"), "PRAGMA user_version = 99");

  auto again = open_sqlite_backend(tmp.path(), clock);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("schema version 99"));
  EXPECT_THAT(again.error().message, HasSubstr(tmp.file("backend.db")));
}

TEST(SqliteBackend, MovesVersionOneAuditEventsIntoTheAuditLog) {
  TempDir tmp;
  const std::string db = tmp.file("backend.db");
  // Schema version 1, as the first release wrote it, with events stored as items under
  // /events/<arrival ns>-<sequence>-<uid> (values are blobs, like every item's).
  exec_sql(
      db,
      "CREATE TABLE items (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires INTEGER,"
      "  revision INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE INDEX items_by_expiry ON items(expires) WHERE expires IS NOT NULL;"
      "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;"
      "INSERT INTO meta(name, value) VALUES ('revision', 5);"
      "INSERT INTO items VALUES ('/users/alice', CAST('{}' AS BLOB), NULL, 1);"
      "INSERT INTO items VALUES ('/events/01700000300000000000-000000000002-u3',"
      "  CAST('{\"event\":\"db.session.end\",\"user\":\"bob\"}' AS BLOB), NULL, 4);"
      "INSERT INTO items VALUES ('/events/01700000100000000000-000000000000-u1',"
      "  CAST('{\"event\":\"user.login\",\"user\":\"alice\",\"time\":\"2023-11-14T22:13:20Z\"}' AS BLOB),"
      "  NULL, 2);"
      "INSERT INTO items VALUES ('/events/01700000200000000000-000000000001-u2',"
      "  CAST('not json' AS BLOB), NULL, 3);"
      "PRAGMA user_version = 1;");
  FakeClock clock(from_unix_seconds(1'700'000'000));
  auto backend = open_sqlite_backend(tmp.path(), clock);
  ASSERT_TRUE(backend.ok()) << backend.error().message;

  auto records = (*backend)->search_audit_events({});
  ASSERT_TRUE(records.ok()) << records.error().message;
  ASSERT_EQ(records->size(), 3u) << "nothing is lost, not even a value that is not JSON";
  EXPECT_EQ((*records)[0].text, R"({"event":"user.login","user":"alice","time":"2023-11-14T22:13:20Z"})");
  EXPECT_EQ((*records)[0].type, "user.login");
  EXPECT_EQ((*records)[0].user, "alice");
  EXPECT_EQ((*records)[0].time, from_unix_seconds(1'700'000'000)) << "the event's own time";
  EXPECT_EQ((*records)[1].text, "not json");
  EXPECT_EQ((*records)[1].time, from_unix_seconds(1'700'000'200)) << "no time of its own: when it arrived";
  EXPECT_EQ((*records)[2].type, "db.session.end");
  EXPECT_EQ((*records)[2].user, "bob");
  EXPECT_EQ((*records)[2].time, from_unix_seconds(1'700'000'300));

  auto items = (*backend)->range("/");
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u) << "the events left the items";
  EXPECT_EQ((*items)[0].key, "/users/alice");
  EXPECT_EQ(query_int(db, "PRAGMA user_version"), backend_internal::kSchemaVersion);
  // Revisions continue from where version 1 left them.
  auto next = (*backend)->put(make_item("/users/bob", "{}"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->revision, 6);
}

TEST(SqliteBackend, ErrorNamesThePathWhenTheDataDirIsAFile) {
  TempDir tmp;
  const std::string not_a_dir = tmp.file("plain-file");
  std::ofstream(not_a_dir) << "x";
  FakeClock clock(from_unix_seconds(1'700'000'000));
  auto backend = open_sqlite_backend(not_a_dir, clock);
  ASSERT_FALSE(backend.ok());
  EXPECT_THAT(backend.error().message, HasSubstr(not_a_dir + "/backend.db"));
  EXPECT_THAT(backend.error().message, HasSubstr("check the data_dir permissions"));
}

TEST(SqliteBackend, ErrorExplainsAnUnwritableDataDir) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0500), 0);
  FakeClock clock(from_unix_seconds(1'700'000'000));
  auto backend = open_sqlite_backend(tmp.path(), clock);
  ASSERT_FALSE(backend.ok());
  EXPECT_THAT(backend.error().message, HasSubstr("cannot open " + tmp.file("backend.db")));
  EXPECT_THAT(backend.error().message, HasSubstr("check the data_dir permissions"));
}

TEST(SqliteBackend, ErrorExplainsAFileThatIsNotADatabase) {
  TempDir tmp;
  std::ofstream(tmp.file("backend.db")) << std::string(4096, 'z');
  FakeClock clock(from_unix_seconds(1'700'000'000));
  auto backend = open_sqlite_backend(tmp.path(), clock);
  ASSERT_FALSE(backend.ok());
  EXPECT_THAT(backend.error().message, HasSubstr(tmp.file("backend.db")));
  EXPECT_THAT(backend.error().message, HasSubstr("restore it from a backup"));
}

TEST(SqliteBackend, EmptyDataDirIsRefused) {
  FakeClock clock(from_unix_seconds(1'700'000'000));
  auto backend = open_sqlite_backend("", clock);
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.error().code, ErrorCode::kInvalidArgument);
}

TEST(SqliteBackend, RangeOverHighBytePrefixes) {
  FakeClock clock(from_unix_seconds(1'700'000'000));
  auto backend = open_memory_backend(clock);
  ASSERT_TRUE(backend.ok());
  for (const std::string& k : std::vector<std::string>{"\xfe", "\xff", "\xff\x01", "\xff\xff", {"\xff\xff\0", 3}})
    ASSERT_TRUE((*backend)->put(make_item(k, "v")).ok());
  auto under_ff = (*backend)->range("\xff");
  ASSERT_TRUE(under_ff.ok());
  ASSERT_EQ(under_ff->size(), 4u);
  EXPECT_EQ((*under_ff)[0].key, "\xff");
  auto under_ffff = (*backend)->range("\xff\xff");
  ASSERT_TRUE(under_ffff.ok());
  EXPECT_EQ(under_ffff->size(), 2u);
}

TEST(SqliteBackend, SlowWatcherLosesItsOldestEvents) {
  FakeClock clock(from_unix_seconds(1'700'000'000));
  backend_internal::SqliteBackendOptions options;
  options.purge_interval = milliseconds(0);
  options.watch_queue_capacity = 3;
  auto backend = backend_internal::open_sqlite_database(":memory:", clock, options);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  auto w = (*backend)->watch("/");
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE((*backend)->put(make_item("/k" + std::to_string(i), "v")).ok());
  std::vector<std::string> keys;
  while (auto e = w->next(milliseconds(0))) keys.push_back(e->item.key);
  EXPECT_THAT(keys, ElementsAre("/k3", "/k4", "/k5"));
  // And it keeps going after the overflow.
  ASSERT_TRUE((*backend)->put(make_item("/k6", "v")).ok());
  EXPECT_EQ(w->next(milliseconds(0))->item.key, "/k6");
}

TEST(SqliteBackend, BackgroundThreadPurgesExpiredItems) {
  // The clock is set once, before the purge thread starts, so the two never race.
  FakeClock clock(from_unix_seconds(1'700'000'000));
  backend_internal::SqliteBackendOptions options;
  options.purge_interval = milliseconds(10);
  auto backend = backend_internal::open_sqlite_database(":memory:", clock, options);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  auto w = (*backend)->watch("/");
  Item stale = make_item("/stale", "v");
  stale.expires = clock.now() - seconds(1);
  ASSERT_TRUE((*backend)->put(stale).ok());
  ASSERT_EQ(w->next(seconds(5))->type, EventType::kPut);
  auto purged = w->next(seconds(5));
  ASSERT_TRUE(purged.has_value());
  EXPECT_EQ(purged->type, EventType::kDelete);
  EXPECT_EQ(purged->item.key, "/stale");
}

}  // namespace
}  // namespace tp::testing
