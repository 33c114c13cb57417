#include "db/audit_log.h"

#include <gtest/gtest.h>

#include <dirent.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/files.h"
#include "common/strings.h"
#include "unit/backend/temp_dir.h"

namespace tp::db {
namespace {

using nlohmann::json;

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
  }
  return names;
}

// An Auth Service that can be switched off.
struct FakeUploader {
  std::atomic<bool> reachable = true;
  std::vector<json> received;
  std::atomic<int> calls = 0;
  int fail_after = -1;  // >= 0: calls after this many fail as unreachable
  Status operator()(const std::vector<std::string>& batch) {
    ++calls;
    if (!reachable || (fail_after >= 0 && calls > fail_after)) return unavailable("auth service unreachable");
    std::vector<json> events;
    for (const auto& text : batch) {
      events.push_back(json::parse(text));  // each event is one JSON object's text
      if (events.back().value("event", "") == "bad") return invalid_argument("event 1 of 1: missing type");
    }
    received.insert(received.end(), events.begin(), events.end());
    return {};
  }
};

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLog make(size_t batch = 2, size_t max_queued = 100,
                std::chrono::milliseconds linger = std::chrono::milliseconds(50), size_t max_batch_bytes = 1 << 20) {
    AuditLogOptions o;
    o.max_batch_bytes = max_batch_bytes;
    o.spool_dir = dir_.file("spool");
    o.batch_size = batch;
    o.max_queued = max_queued;
    o.linger = linger;
    o.retry_interval = std::chrono::seconds(30);
    return AuditLog(
        o, [this](const std::vector<std::string>& b) { return uploader_(b); }, clock_, rng_);
  }
  // An event as the sessions write one: its type and the time it happened.
  JsonObjectWriter event(const char* type) {
    JsonObjectWriter e;
    e.add("event", type).add("time", format_rfc3339(clock_.now()));
    return e;
  }

  testing::TempDir dir_;
  FakeUploader uploader_;
  FakeClock clock_{from_unix_seconds(1'700'000'000)};
  SequenceRng rng_;
};

TEST_F(AuditLogTest, EventsGetTimeAndIdAndAreUploadedInBatches) {
  AuditLog log = make();
  for (int i = 0; i < 5; ++i) log.emit(event("db.session.query").add("n", i));
  EXPECT_EQ(log.queued(), 5u);
  EXPECT_EQ(log.upload_pending(), 5u);
  EXPECT_EQ(uploader_.calls, 3) << "batches of two";
  ASSERT_EQ(uploader_.received.size(), 5u);
  EXPECT_EQ(uploader_.received[0]["time"], "2023-11-14T22:13:20Z");
  // A random prefix per process, then a 16-digit hex counter.
  const std::string first = uploader_.received[0]["uid"], fifth = uploader_.received[4]["uid"];
  ASSERT_EQ(first.size(), 32u);
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos) << first;
  EXPECT_EQ(first.substr(16), "0000000000000000");
  EXPECT_EQ(fifth.substr(0, 16), first.substr(0, 16));
  EXPECT_EQ(fifth.substr(16), "0000000000000004");
}

TEST_F(AuditLogTest, UnreachableAuthSpoolsToDiskAndReplaysInOrder) {
  AuditLog log = make();
  uploader_.reachable = false;
  log.emit(event("a"));
  log.emit(event("b"));
  log.emit(event("c"));
  EXPECT_EQ(log.upload_pending(), 0u);
  EXPECT_EQ(log.spooled_files(), 1u);
  EXPECT_EQ(log.queued(), 1u) << "after a failure the pass stops; the rest waits";

  clock_.advance(std::chrono::seconds(1));
  log.emit(event("d"));
  uploader_.reachable = true;
  EXPECT_EQ(log.upload_pending(), 4u);
  EXPECT_EQ(log.spooled_files(), 0u);
  std::vector<std::string> order;
  for (const auto& e : uploader_.received) order.push_back(e["event"]);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(uploader_.received[0]["time"], "2023-11-14T22:13:20Z") << "the original time survives the spool";
}

TEST_F(AuditLogTest, TheSpoolSurvivesARestart) {
  {
    AuditLog log = make();
    uploader_.reachable = false;
    log.emit(event("a"));
    log.stop(std::chrono::milliseconds(100));
    EXPECT_EQ(log.spooled_files(), 1u);
  }
  uploader_.reachable = true;
  AuditLog next = make();
  EXPECT_EQ(next.upload_pending(), 1u);
  ASSERT_EQ(uploader_.received.size(), 1u);
  EXPECT_EQ(uploader_.received[0]["event"], "a");
}

TEST_F(AuditLogTest, AStuckUploaderCannotMakeTheQueueGrowWithoutBound) {
  // No uploader thread: emit itself spools once the queue reaches twice max_queued.
  AuditLog log = make(/*batch=*/10, /*max_queued=*/4);
  for (int i = 0; i < 9; ++i) log.emit(event("q").add("n", i));
  EXPECT_EQ(log.queued(), 1u);
  EXPECT_EQ(log.spooled_files(), 1u);
  EXPECT_EQ(uploader_.calls, 0) << "emit never waits on the network";
  EXPECT_EQ(log.upload_pending(), 9u);
}

TEST_F(AuditLogTest, WhileTheAuthServiceIsAwayTheUploaderMovesTheBacklogToDisk) {
  AuditLog log = make(/*batch=*/2, /*max_queued=*/4, std::chrono::milliseconds(1));
  uploader_.reachable = false;
  log.start();
  log.emit(event("first"));
  for (int i = 0; i < 400 && uploader_.calls == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(uploader_.calls, 1) << "the first upload fails; the uploader now backs off for 30 s";
  for (int i = 0; i < 4; ++i) log.emit(event("q").add("n", i));  // reaches max_queued, below 2x
  // The backlog leaves the queue, then its file is written: wait for the file.
  for (int i = 0; i < 400 && log.spooled_files() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(log.queued(), 0u);
  EXPECT_EQ(log.spooled_files(), 2u) << "the failed batch, then the backlog";
  EXPECT_EQ(uploader_.calls, 1) << "no retry before the back-off ends";
  log.stop(std::chrono::milliseconds(100));
  uploader_.reachable = true;
  EXPECT_EQ(log.upload_pending(), 5u);
  EXPECT_EQ(uploader_.received.front()["event"], "first");
}

TEST_F(AuditLogTest, TheUploaderSendsABatchNotAnEventAtATime) {
  AuditLog log = make(/*batch=*/3, /*max_queued=*/100, std::chrono::seconds(10));
  log.start();
  for (int i = 0; i < 3; ++i) log.emit(event("q").add("n", i));
  for (int i = 0; i < 400 && log.queued() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(log.queued(), 0u) << "a full batch goes without waiting for the linger time";
  log.stop(std::chrono::milliseconds(100));
  EXPECT_EQ(uploader_.calls, 1);
  EXPECT_EQ(uploader_.received.size(), 3u);
}

TEST_F(AuditLogTest, TheUploaderThreadDeliversWithoutBeingAsked) {
  AuditLog log = make();
  log.start();
  log.emit(event("x"));
  for (int i = 0; i < 200 && log.queued() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  log.stop(std::chrono::milliseconds(100));
  ASSERT_EQ(uploader_.received.size(), 1u);
}

TEST_F(AuditLogTest, ABatchTheAuthServiceRefusesIsKeptAsideAndTheRestGoesOn) {
  AuditLog log = make(/*batch=*/1);
  log.emit(event("a"));
  log.emit(event("bad"));
  log.emit(event("c"));
  EXPECT_EQ(log.upload_pending(), 2u);
  std::vector<std::string> order;
  for (const auto& e : uploader_.received) order.push_back(e["event"]);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(log.spooled_files(), 0u) << "not retried";
  auto kept = list_dir(dir_.file("spool") + "/rejected");
  ASSERT_EQ(kept.size(), 1u);
  auto text = read_file(dir_.file("spool") + "/rejected/" + kept[0]);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(json::parse(split(*text, '\n').at(0))["event"], "bad") << "kept, not lost, one event per line";
}

TEST_F(AuditLogTest, LargeEventsMakeSmallerBatches) {
  AuditLog log = make(/*batch=*/100, /*max_queued=*/1000, std::chrono::milliseconds(50), /*max_batch_bytes=*/2500);
  for (int i = 0; i < 4; ++i) log.emit(event("q").add("db_query", std::string(900, 'x')));
  EXPECT_EQ(log.upload_pending(), 4u);
  EXPECT_EQ(uploader_.calls, 2) << "two ~1 KB events per 2.5 KB batch";
  log.emit(event("q").add("db_query", std::string(5000, 'y')));
  EXPECT_EQ(log.upload_pending(), 1u) << "an event larger than a batch still goes, alone";
}

TEST_F(AuditLogTest, ALargeSpoolFileGoesUpInBatchesAndAFailureMidwaySendsNothingTwice) {
  {
    AuditLog log = make(/*batch=*/2);
    uploader_.reachable = false;
    for (int i = 0; i < 5; ++i) log.emit(event("q").add("n", i));
    log.stop(std::chrono::milliseconds(100));  // the first batch failed: everything is spooled
  }
  uploader_.reachable = true;
  uploader_.calls = 0;
  uploader_.fail_after = 1;  // the first batch of the replay goes up, then the Auth Service is gone
  AuditLog next = make(/*batch=*/2);
  EXPECT_EQ(next.upload_pending(), 2u);
  uploader_.fail_after = -1;
  EXPECT_EQ(next.upload_pending(), 3u);
  std::vector<int> order;
  for (const auto& e : uploader_.received) order.push_back(e["n"]);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(AuditLogTest, EventsWrittenAsTextGetTheirIdAndKeepEveryField) {
  AuditLog log = make();
  JsonObjectWriter query;
  query.add("event", "db.session.query").add("time", "2026-01-01T00:00:00Z").add("db_query", "select '\xff'");
  log.emit(std::move(query));
  EXPECT_EQ(log.upload_pending(), 1u);
  ASSERT_EQ(uploader_.received.size(), 1u);
  EXPECT_EQ(uploader_.received[0]["time"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(uploader_.received[0]["db_query"], "select '\xef\xbf\xbd'");
  EXPECT_FALSE(uploader_.received[0].value("uid", "").empty());
}

TEST_F(AuditLogTest, ASpoolFileFromBeforeJsonLinesIsReplayed) {
  // Spools used to hold one JSON array per file.
  ASSERT_TRUE(make_dirs(dir_.file("spool"), 0700).ok());
  ASSERT_TRUE(write_file_atomic(
                  dir_.file("spool") + "/00000000000000000001-000000-abcd.json",
                  R"([{"event":"old","uid":"u1","time":"t1"},{"event":"older","uid":"u2","time":"t2"}])",
                  0600)
                  .ok());
  AuditLog log = make();
  EXPECT_EQ(log.upload_pending(), 2u);
  ASSERT_EQ(uploader_.received.size(), 2u);
  EXPECT_EQ(uploader_.received[1]["uid"], "u2");
  EXPECT_EQ(log.spooled_files(), 0u);
}

}  // namespace
}  // namespace tp::db
