#include "backend/internal/event_fanout.h"

#include <gmock/gmock.h>

#include <thread>

namespace tp::backend_internal {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;

Event put_event(std::string key, int64_t revision) {
  Event e;
  e.item.key = std::move(key);
  e.item.revision = revision;
  return e;
}

std::vector<int64_t> revisions(Watcher& w) {
  std::vector<int64_t> out;
  while (auto e = w.next(milliseconds(0))) out.push_back(e->item.revision);
  return out;
}

TEST(EventFanout, DeliversMatchingEventsInOrder) {
  EventFanout fanout;
  auto a = fanout.subscribe("/a/");
  auto all = fanout.subscribe("");
  fanout.publish({put_event("/a/1", 1), put_event("/b/1", 2), put_event("/a/2", 3)});
  EXPECT_THAT(revisions(*a), ElementsAre(1, 3));
  EXPECT_THAT(revisions(*all), ElementsAre(1, 2, 3));
}

TEST(EventFanout, FullQueueDropsTheOldest) {
  EventFanout fanout(2);
  auto w = fanout.subscribe("/");
  fanout.publish({put_event("/1", 1), put_event("/2", 2)});
  fanout.publish({put_event("/3", 3)});
  EXPECT_THAT(revisions(*w), ElementsAre(2, 3));
  fanout.publish({put_event("/4", 4), put_event("/5", 5), put_event("/6", 6)});
  EXPECT_THAT(revisions(*w), ElementsAre(5, 6));
}

TEST(EventFanout, OneSlowWatcherDoesNotAffectAnother) {
  EventFanout fanout(2);
  auto slow = fanout.subscribe("/");
  auto fast = fanout.subscribe("/");
  std::vector<int64_t> fast_seen;
  for (int64_t r = 1; r <= 5; ++r) {
    fanout.publish({put_event("/k", r)});
    auto e = fast->next(milliseconds(0));
    ASSERT_TRUE(e.has_value());
    fast_seen.push_back(e->item.revision);
  }
  EXPECT_THAT(fast_seen, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(revisions(*slow), ElementsAre(4, 5));
}

TEST(EventFanout, DestroyedWatchersAreForgotten) {
  EventFanout fanout;
  { auto gone = fanout.subscribe("/"); }
  auto kept = fanout.subscribe("/");
  fanout.publish({put_event("/k", 1)});
  EXPECT_THAT(revisions(*kept), ElementsAre(1));
}

TEST(EventFanout, CloseWakesABlockedWatcher) {
  EventFanout fanout;
  auto w = fanout.subscribe("/");
  auto start = std::chrono::steady_clock::now();
  std::thread closer([&] {
    std::this_thread::sleep_for(milliseconds(20));
    fanout.close();
  });
  EXPECT_FALSE(w->next(std::chrono::seconds(5)).has_value());
  closer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // Subscribing after close gives a watcher that never blocks.
  auto late = fanout.subscribe("/");
  EXPECT_FALSE(late->next(std::chrono::seconds(5)).has_value());
}

}  // namespace
}  // namespace tp::backend_internal
