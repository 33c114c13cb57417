#include "common/clock.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

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

TEST(Clock, Rfc3339MatchesStrftimeAcrossTheCalendar) {
  auto expected = [](int64_t unix_seconds) {
    std::time_t tt = unix_seconds;
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm));
  };
  // Leap days, century rules, the 2038 boundary, before 1970, and the ends of what a TimePoint
  // (64-bit nanoseconds) holds: 1677-09-21 to 2262-04-11.
  for (int64_t s : {int64_t{0}, int64_t{-1}, int64_t{951782400}, int64_t{951868799}, int64_t{4107542400},
                    int64_t{2147483647}, int64_t{2147483648}, int64_t{-2208988800}, int64_t{9223372036},
                    int64_t{-9223372036}}) {
    EXPECT_EQ(format_rfc3339(from_unix_seconds(s)), expected(s)) << s;
  }
  // Sub-second parts are dropped, not rounded, also before 1970.
  EXPECT_EQ(format_rfc3339(from_unix_seconds(-1) + std::chrono::milliseconds(999)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339(from_unix_seconds(59) + std::chrono::milliseconds(999)), "1970-01-01T00:00:59Z");
  uint64_t x = 88172645463325252ull;  // xorshift64, fixed seed
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int64_t s = static_cast<int64_t>(x % 18446744073ull) - 9223372036;  // anywhere in that span
    EXPECT_EQ(format_rfc3339(from_unix_seconds(s)), expected(s)) << s;
    if (s >= -9214560000 && s < 9214646400) {  // years 1678 to 2261, what parse_rfc3339 takes
      EXPECT_EQ(parse_rfc3339(format_rfc3339(from_unix_seconds(s))), from_unix_seconds(s)) << s;
    }
  }
}

TEST(Clock, ParsesRfc3339) {
  const TimePoint t = from_unix_seconds(1686777660);  // 2023-06-14T21:21:00Z
  EXPECT_EQ(parse_rfc3339("2023-06-14T21:21:00Z"), t);
  EXPECT_EQ(parse_rfc3339("2023-06-14t21:21:00z"), t);
  EXPECT_EQ(parse_rfc3339("2023-06-14 21:21:00Z"), t);
  EXPECT_EQ(parse_rfc3339("2023-06-14T21:21:00.999999Z"), t) << "a fraction is dropped";
  EXPECT_EQ(parse_rfc3339("2023-06-14T23:51:00+02:30"), t);
  EXPECT_EQ(parse_rfc3339("2023-06-14T20:21:00-01:00"), t);
  EXPECT_EQ(parse_rfc3339("2023-06-15T00:21:00.5+03:00"), t) << "the offset crosses midnight";
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:60Z"), from_unix_seconds(1483228800)) << "a leap second";
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), from_unix_seconds(1709164800));
  for (const char* bad : {"",
                          "t",
                          "2023-06-14",
                          "2023-06-14T21:21:00",
                          "2023-06-14T21:21Z",
                          "2023-06-14T21:21:00ZZ",
                          "2023-06-14T21:21:00.Z",
                          "2023-06-14T21:21:00+0200",
                          "2023-06-14T24:00:00Z",
                          "2023-06-14T21:60:00Z",
                          "2023-06-14T21:21:61Z",
                          "2023-02-29T00:00:00Z",
                          "2023-13-01T00:00:00Z",
                          "2023-00-01T00:00:00Z",
                          "2023-06-14T21:21:00+24:00",
                          "+023-06-14T21:21:00Z",
                          "2023-06-1xT21:21:00Z",
                          "1600-01-01T00:00:00Z",
                          "2300-01-01T00:00:00Z",
                          " 2023-06-14T21:21:00Z"})
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
}

TEST(Clock, FakeClockAdvances) {
  FakeClock c(from_unix_seconds(100));
  c.advance(std::chrono::seconds(5));
  EXPECT_EQ(to_unix_seconds(c.now()), 105);
}

}  // namespace
}  // namespace tp
