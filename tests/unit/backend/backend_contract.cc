#include "backend_contract.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace tp::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string backend_factory_name(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

void BackendContractTest::SetUp() {
  harness_ = GetParam().make();
  auto opened = harness_->open(clock_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  backend_ = std::move(opened).value();
}

void BackendContractTest::reopen() {
  backend_.reset();
  auto opened = harness_->open(clock_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  backend_ = std::move(opened).value();
}

// Implementations own their instantiation; without one this suite is empty.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendContractTest);

namespace {

Item make_item(std::string key, std::string value, std::optional<TimePoint> expires = std::nullopt) {
  Item item;
  item.key = std::move(key);
  item.value = std::move(value);
  item.expires = expires;
  return item;
}

std::vector<std::string> keys_of(const std::vector<Item>& items) {
  std::vector<std::string> keys;
  for (const auto& i : items) keys.push_back(i.key);
  return keys;
}

// Everything already queued; writes publish before they return.
std::vector<Event> drain(Watcher& w) {
  std::vector<Event> events;
  while (auto e = w.next(milliseconds(0))) events.push_back(std::move(*e));
  return events;
}

std::vector<std::string> describe(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back((e.type == EventType::kPut ? "put " : "delete ") + e.item.key);
  return out;
}

}  // namespace

TEST_P(BackendContractTest, PutThenGetReturnsTheItem) {
  auto put = backend_->put(make_item("/users/alice", "v1"));
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_GT(put->revision, 0);

  auto got = backend_->get("/users/alice");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->key, "/users/alice");
  EXPECT_EQ(got->value, "v1");
  EXPECT_FALSE(got->expires.has_value());
  EXPECT_EQ(got->revision, put->revision);
}

TEST_P(BackendContractTest, GetMissingIsNotFoundAndNamesTheKey) {
  auto got = backend_->get("/users/nobody");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(got.error().message, HasSubstr("/users/nobody"));
}

TEST_P(BackendContractTest, PutReplacesAndRevisionGrows) {
  auto first = backend_->put(make_item("/k", "one"));
  auto second = backend_->put(make_item("/k", "two"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_GT(second->revision, first->revision);
  EXPECT_EQ(backend_->get("/k")->value, "two");
}

TEST_P(BackendContractTest, BinaryAndEmptyValuesRoundTrip) {
  const std::string binary("a\0b\xff\x80z", 6);
  ASSERT_TRUE(backend_->put(make_item("/bin", binary)).ok());
  ASSERT_TRUE(backend_->put(make_item("/empty", "")).ok());
  EXPECT_EQ(backend_->get("/bin")->value, binary);
  auto empty = backend_->get("/empty");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->value, "");
}

TEST_P(BackendContractTest, EmptyKeyIsInvalidArgument) {
  auto put = backend_->put(make_item("", "v"));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(BackendContractTest, RepeatedStatementsSeeFreshBindings) {
  // The same cached statements run many times with different values.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(backend_->put(make_item("/k/" + std::to_string(i), std::to_string(i))).ok());
  for (int i = 0; i < 50; ++i) {
    auto got = backend_->get("/k/" + std::to_string(i));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->value, std::to_string(i));
  }
  auto some = backend_->range("/k/1", 3);
  ASSERT_TRUE(some.ok());
  EXPECT_THAT(keys_of(*some), ElementsAre("/k/1", "/k/10", "/k/11"));
  EXPECT_TRUE(backend_->remove("/k/1").ok());
  EXPECT_EQ(backend_->remove("/k/1").error().code, ErrorCode::kNotFound);
}

TEST_P(BackendContractTest, CreateFailsWhenTheKeyExists) {
  ASSERT_TRUE(backend_->create(make_item("/tokens/t1", "first")).ok());
  auto again = backend_->create(make_item("/tokens/t1", "second"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(again.error().message, HasSubstr("/tokens/t1"));
  EXPECT_EQ(backend_->get("/tokens/t1")->value, "first");
}

TEST_P(BackendContractTest, CompareAndSwapReplacesOnMatch) {
  auto before = backend_->put(make_item("/counter", "1"));
  auto swapped = backend_->compare_and_swap("1", make_item("/counter", "2"));
  ASSERT_TRUE(swapped.ok()) << swapped.error().message;
  EXPECT_GT(swapped->revision, before->revision);
  EXPECT_EQ(backend_->get("/counter")->value, "2");
}

TEST_P(BackendContractTest, CompareAndSwapFailsOnMismatch) {
  ASSERT_TRUE(backend_->put(make_item("/counter", "1")).ok());
  auto swapped = backend_->compare_and_swap("0", make_item("/counter", "2"));
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().code, ErrorCode::kCompareFailed);
  EXPECT_THAT(swapped.error().message, HasSubstr("/counter"));
  EXPECT_EQ(backend_->get("/counter")->value, "1");
}

TEST_P(BackendContractTest, CompareAndSwapOnMissingKeyIsNotFound) {
  auto swapped = backend_->compare_and_swap("", make_item("/absent", "x"));
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(backend_->get("/absent").ok());
}

TEST_P(BackendContractTest, RemoveDeletesAndMissingIsNotFound) {
  ASSERT_TRUE(backend_->put(make_item("/k", "v")).ok());
  ASSERT_TRUE(backend_->remove("/k").ok());
  EXPECT_EQ(backend_->get("/k").error().code, ErrorCode::kNotFound);

  auto again = backend_->remove("/k");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(again.error().message, HasSubstr("/k"));
}

TEST_P(BackendContractTest, RangeReturnsOnlyThePrefixInKeyOrder) {
  for (const char* k : {"/users/bob", "/users2/x", "/users/alice", "/usersx", "/user", "/nodes/a", "/users/"})
    ASSERT_TRUE(backend_->put(make_item(k, "v")).ok());

  auto users = backend_->range("/users/");
  ASSERT_TRUE(users.ok()) << users.error().message;
  EXPECT_THAT(keys_of(*users), ElementsAre("/users/", "/users/alice", "/users/bob"));
  // A prefix is bytes, not a path segment: "/users" also matches "/users2/x".
  EXPECT_THAT(keys_of(*backend_->range("/users")),
              ElementsAre("/users/", "/users/alice", "/users/bob", "/users2/x", "/usersx"));
  EXPECT_THAT(keys_of(*backend_->range("/")), ::testing::SizeIs(7));
  EXPECT_THAT(keys_of(*backend_->range("/zzz")), ::testing::IsEmpty());
}

TEST_P(BackendContractTest, RangeTreatsPercentAndUnderscoreLiterally) {
  for (const char* k : {"/a%b/1", "/a_b/1", "/axb/1", "/a%%/2", "/abb/1"})
    ASSERT_TRUE(backend_->put(make_item(k, "v")).ok());
  EXPECT_THAT(keys_of(*backend_->range("/a%")), ElementsAre("/a%%/2", "/a%b/1"));
  EXPECT_THAT(keys_of(*backend_->range("/a_")), ElementsAre("/a_b/1"));
  EXPECT_THAT(keys_of(*backend_->range("/a_b/")), ElementsAre("/a_b/1"));
}

TEST_P(BackendContractTest, RangeHonoursTheLimit) {
  for (const char* k : {"/r/5", "/r/3", "/r/1", "/r/4", "/r/2"}) ASSERT_TRUE(backend_->put(make_item(k, k)).ok());
  auto two = backend_->range("/r/", 2);
  ASSERT_TRUE(two.ok());
  EXPECT_THAT(keys_of(*two), ElementsAre("/r/1", "/r/2"));
  EXPECT_EQ((*two)[1].value, "/r/2");
  EXPECT_THAT(keys_of(*backend_->range("/r/", 0)), ::testing::SizeIs(5));
  EXPECT_THAT(keys_of(*backend_->range("/r/", 50)), ::testing::SizeIs(5));
}

TEST_P(BackendContractTest, RemoveRangeDeletesOnlyThePrefix) {
  for (const char* k : {"/s/a", "/s/b", "/sx", "/t/a"}) ASSERT_TRUE(backend_->put(make_item(k, "v")).ok());
  auto w = backend_->watch("/");
  ASSERT_TRUE(backend_->remove_range("/s/").ok());
  EXPECT_THAT(keys_of(*backend_->range("/")), ElementsAre("/sx", "/t/a"));
  EXPECT_THAT(describe(drain(*w)), ElementsAre("delete /s/a", "delete /s/b"));
  EXPECT_TRUE(backend_->remove_range("/nothing/").ok());
}

TEST_P(BackendContractTest, ExpiryIsKeptAndRoundTrips) {
  const TimePoint at = clock_.now() + seconds(30);
  auto put = backend_->put(make_item("/ttl", "v", at));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->expires, at);
  EXPECT_EQ(backend_->get("/ttl")->expires, at);
  EXPECT_EQ((*backend_->range("/ttl"))[0].expires, at);
}

TEST_P(BackendContractTest, ExpiredItemsAreInvisible) {
  ASSERT_TRUE(backend_->put(make_item("/ttl/a", "old", clock_.now() + seconds(10))).ok());
  ASSERT_TRUE(backend_->put(make_item("/ttl/b", "kept")).ok());

  clock_.advance(seconds(9));
  EXPECT_TRUE(backend_->get("/ttl/a").ok());

  clock_.advance(seconds(1));  // expires <= now: gone
  EXPECT_EQ(backend_->get("/ttl/a").error().code, ErrorCode::kNotFound);
  EXPECT_THAT(keys_of(*backend_->range("/ttl/")), ElementsAre("/ttl/b"));
  EXPECT_EQ(backend_->compare_and_swap("old", make_item("/ttl/a", "new")).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(backend_->remove("/ttl/a").error().code, ErrorCode::kNotFound);

  auto created = backend_->create(make_item("/ttl/a", "fresh"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(backend_->get("/ttl/a")->value, "fresh");
  EXPECT_FALSE(backend_->get("/ttl/a")->expires.has_value());
}

TEST_P(BackendContractTest, PurgeExpiredDeletesAndAnnouncesIt) {
  ASSERT_TRUE(backend_->put(make_item("/p/short", "v", clock_.now() + seconds(5))).ok());
  ASSERT_TRUE(backend_->put(make_item("/p/long", "v", clock_.now() + seconds(500))).ok());
  ASSERT_TRUE(backend_->put(make_item("/p/forever", "v")).ok());
  auto w = backend_->watch("/p/");

  ASSERT_TRUE(backend_->purge_expired().ok());
  EXPECT_TRUE(drain(*w).empty());

  clock_.advance(seconds(60));
  ASSERT_TRUE(backend_->purge_expired().ok());
  auto events = drain(*w);
  EXPECT_THAT(describe(events), ElementsAre("delete /p/short"));

  // Deleted, not merely hidden: turning the clock back does not revive it.
  clock_.advance(-seconds(60));
  EXPECT_EQ(backend_->get("/p/short").error().code, ErrorCode::kNotFound);
  EXPECT_THAT(keys_of(*backend_->range("/p/")), ElementsAre("/p/forever", "/p/long"));
}

TEST_P(BackendContractTest, WatchDeliversPutsAndDeletesInOrder) {
  auto w = backend_->watch("/users/");
  ASSERT_TRUE(backend_->put(make_item("/users/a", "1")).ok());
  ASSERT_TRUE(backend_->put(make_item("/nodes/x", "ignored")).ok());
  ASSERT_TRUE(backend_->create(make_item("/users/b", "2")).ok());
  ASSERT_TRUE(backend_->compare_and_swap("1", make_item("/users/a", "3")).ok());
  ASSERT_TRUE(backend_->remove("/users/a").ok());
  ASSERT_TRUE(backend_->remove("/nodes/x").ok());

  auto events = drain(*w);
  EXPECT_THAT(describe(events), ElementsAre("put /users/a", "put /users/b", "put /users/a", "delete /users/a"));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].item.value, "1");
  EXPECT_EQ(events[2].item.value, "3");
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].item.revision, events[i - 1].item.revision);
}

TEST_P(BackendContractTest, WatchersSeeOnlyTheirPrefix) {
  auto users = backend_->watch("/users/");
  auto nodes = backend_->watch("/nodes/");
  auto all = backend_->watch("");
  ASSERT_TRUE(backend_->put(make_item("/users/a", "v")).ok());
  ASSERT_TRUE(backend_->put(make_item("/nodes/n", "v")).ok());
  ASSERT_TRUE(backend_->put(make_item("/users_x", "v")).ok());
  EXPECT_THAT(describe(drain(*users)), ElementsAre("put /users/a"));
  EXPECT_THAT(describe(drain(*nodes)), ElementsAre("put /nodes/n"));
  EXPECT_THAT(describe(drain(*all)), ElementsAre("put /users/a", "put /nodes/n", "put /users_x"));
}

TEST_P(BackendContractTest, WatcherSeesNothingFromBeforeItStarted) {
  ASSERT_TRUE(backend_->put(make_item("/a", "v")).ok());
  auto w = backend_->watch("/");
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(w->next(milliseconds(30)).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(25));
}

TEST_P(BackendContractTest, WatcherWakesWhenAWriteArrives) {
  auto w = backend_->watch("/wake/");
  std::optional<Event> got;
  std::thread waiter([&] { got = w->next(seconds(5)); });
  std::this_thread::sleep_for(milliseconds(30));
  ASSERT_TRUE(backend_->put(make_item("/wake/up", "v")).ok());
  waiter.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->item.key, "/wake/up");
}

TEST_P(BackendContractTest, WatcherOutlivingTheBackendReturnsAtOnce) {
  auto w = backend_->watch("/");
  ASSERT_TRUE(backend_->put(make_item("/last", "v")).ok());
  backend_.reset();
  auto first = w->next(seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->item.key, "/last");
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(w->next(seconds(5)).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(1));
}

TEST_P(BackendContractTest, PersistsAcrossReopen) {
  if (!harness_->persistent()) GTEST_SKIP() << "this store does not persist";
  const TimePoint at = clock_.now() + seconds(3600);
  ASSERT_TRUE(backend_->put(make_item("/keep/a", "alpha")).ok());
  auto last = backend_->put(make_item("/keep/b", "beta", at));
  ASSERT_TRUE(last.ok());

  reopen();
  auto a = backend_->get("/keep/a");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->value, "alpha");
  auto b = backend_->get("/keep/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->expires, at);
  EXPECT_EQ(b->revision, last->revision);
  // The revision counter persists too: it never goes back after a restart.
  auto next = backend_->put(make_item("/keep/c", "gamma"));
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next->revision, last->revision);
}

AuditRecord audit(int64_t unix_seconds, std::string type, std::string user, std::string text) {
  AuditRecord r;
  r.time = from_unix_seconds(unix_seconds);
  r.type = std::move(type);
  r.user = std::move(user);
  r.text = std::move(text);
  return r;
}

std::vector<std::string> texts_of(const Result<std::vector<AuditRecord>>& records) {
  std::vector<std::string> texts;
  EXPECT_TRUE(records.ok()) << records.error().message;
  if (records.ok())
    for (const auto& r : *records) texts.push_back(r.text);
  return texts;
}

TEST_P(BackendContractTest, AuditLogKeepsArrivalOrderAndFilters) {
  // Arrival order, not time order: a spooled event comes late with its own, older time.
  ASSERT_TRUE(backend_
                  ->append_audit_events({audit(200, "db.session.start", "alice", "1"),
                                         audit(201, "db.session.query", "alice", "2")})
                  .ok());
  ASSERT_TRUE(backend_
                  ->append_audit_events({audit(100, "db.session.query", "bob", "3"),
                                         audit(202, "user.login", "bob", "4"),
                                         audit(203, "db.session.query", "", "5")})
                  .ok());
  ASSERT_TRUE(backend_->append_audit_events({}).ok());

  auto all = backend_->search_audit_events({});
  EXPECT_THAT(texts_of(all), ElementsAre("1", "2", "3", "4", "5"));
  ASSERT_TRUE(all.ok());
  for (size_t i = 1; i < all->size(); ++i) EXPECT_GT((*all)[i].id, (*all)[i - 1].id);
  EXPECT_EQ((*all)[2].time, from_unix_seconds(100));
  EXPECT_EQ((*all)[2].type, "db.session.query");
  EXPECT_EQ((*all)[2].user, "bob");

  EXPECT_THAT(texts_of(backend_->search_audit_events({.type = "db.session.query"})),
              ElementsAre("2", "3", "5"));
  EXPECT_THAT(texts_of(backend_->search_audit_events({.user = "bob"})), ElementsAre("3", "4"));
  EXPECT_THAT(texts_of(backend_->search_audit_events({.type = "db.session.query", .user = "alice"})),
              ElementsAre("2"));
  EXPECT_THAT(texts_of(backend_->search_audit_events({.type = "nothing"})), ElementsAre());
  // Time bounds are inclusive and apply to the event's time.
  EXPECT_THAT(texts_of(backend_->search_audit_events({.from = from_unix_seconds(201)})),
              ElementsAre("2", "4", "5"));
  EXPECT_THAT(texts_of(backend_->search_audit_events({.to = from_unix_seconds(200)})), ElementsAre("1", "3"));
  EXPECT_THAT(
      texts_of(backend_->search_audit_events({.from = from_unix_seconds(150), .to = from_unix_seconds(202)})),
      ElementsAre("1", "2", "4"));
  // A limit keeps the newest matches, still oldest first.
  EXPECT_THAT(texts_of(backend_->search_audit_events({.limit = 2})), ElementsAre("4", "5"));
  EXPECT_THAT(texts_of(backend_->search_audit_events({.type = "db.session.query", .limit = 2})),
              ElementsAre("3", "5"));
}

TEST_P(BackendContractTest, AuditLogIsApartFromItems) {
  ASSERT_TRUE(backend_->put(make_item("/events/x", "item")).ok());
  auto w = backend_->watch("/");
  ASSERT_TRUE(backend_->append_audit_events({audit(1, "t", "u", R"({"event":"t"})")}).ok());
  EXPECT_TRUE(drain(*w).empty()) << "audit events are not watched";
  auto items = backend_->range("/");
  ASSERT_TRUE(items.ok());
  EXPECT_THAT(keys_of(*items), ElementsAre("/events/x"));
  EXPECT_THAT(texts_of(backend_->search_audit_events({})), ElementsAre(R"({"event":"t"})"));
}

TEST_P(BackendContractTest, AuditLogPersistsAcrossReopen) {
  if (!harness_->persistent()) GTEST_SKIP() << "this store does not persist";
  ASSERT_TRUE(
      backend_->append_audit_events({audit(1, "a", "u", "first"), audit(2, "b", "u", "second")}).ok());
  reopen();
  ASSERT_TRUE(backend_->append_audit_events({audit(3, "c", "u", "third")}).ok());
  EXPECT_THAT(texts_of(backend_->search_audit_events({})), ElementsAre("first", "second", "third"));
}

TEST_P(BackendContractTest, ConcurrentWritersFromFourThreads) {
  constexpr int kThreads = 4;
  constexpr int kPutsPerThread = 200;
  constexpr int kIncrementsPerThread = 25;
  ASSERT_TRUE(backend_->put(make_item("/counter", "0")).ok());
  auto w = backend_->watch("/c/");

  std::vector<std::vector<int64_t>> revisions(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPutsPerThread; ++i) {
        auto put = backend_->put(make_item("/c/" + std::to_string(t) + "/" + std::to_string(i), "v"));
        if (!put.ok()) { ++failures; continue; }
        revisions[t].push_back(put->revision);
        // Interleave read-modify-write increments that must not lose updates.
        if (i % (kPutsPerThread / kIncrementsPerThread) != 0) continue;
        for (;;) {
          auto cur = backend_->get("/counter");
          if (!cur.ok()) { ++failures; break; }
          auto swapped = backend_->compare_and_swap(
              cur->value, make_item("/counter", std::to_string(std::stoi(cur->value) + 1)));
          if (swapped.ok()) break;
          if (swapped.error().code != ErrorCode::kCompareFailed) { ++failures; break; }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);

  EXPECT_EQ(backend_->get("/counter")->value, std::to_string(kThreads * kIncrementsPerThread));
  EXPECT_THAT(*backend_->range("/c/"), ::testing::SizeIs(kThreads * kPutsPerThread));
  std::set<int64_t> unique;
  for (const auto& per_thread : revisions) {
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    unique.insert(per_thread.begin(), per_thread.end());
  }
  EXPECT_EQ(unique.size(), static_cast<size_t>(kThreads * kPutsPerThread));

  // The watcher saw every put exactly once, in commit (revision) order.
  auto events = drain(*w);
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kPutsPerThread));
  for (size_t i = 1; i < events.size(); ++i) ASSERT_GT(events[i].item.revision, events[i - 1].item.revision);
}

}  // namespace tp::testing
