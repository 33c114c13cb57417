#include "common/clock.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

TEST(Clock, Formats) {
  auto t = from_unix_seconds(1686777660);  // 2023-06-14T21:21:00Z
  EXPECT_EQ(format_rfc3339(t), "2023-06-14T21:21:00Z");
  EXPECT_EQ(format_short_utc(t), "14 Jun 23 21:21 UTC");
  EXPECT_EQ(format_duration(std::chrono::seconds(20 * 60 + 15)), "20m15s");
  EXPECT_EQ(format_duration(std::chrono::seconds(3600)), "1h0m0s");
  EXPECT_EQ(format_duration(std::chrono::seconds(5)), "5s");
}

TEST(Clock, FakeClockAdvances) {
  FakeClock c(from_unix_seconds(100));
  c.advance(std::chrono::seconds(5));
  EXPECT_EQ(to_unix_seconds(c.now()), 105);
}

}  // namespace
}  // namespace tp
