// Injected time, so expiry and TTL logic is testable (STYLE habit 4).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tp {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// A clock tests move by hand.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(std::chrono::nanoseconds d) { now_ += std::chrono::duration_cast<TimePoint::duration>(d); }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

SystemClock& system_clock();

int64_t to_unix_seconds(TimePoint t);
TimePoint from_unix_seconds(int64_t s);
// RFC 3339 in UTC, e.g. "2026-11-25T16:39:12Z".
std::string format_rfc3339(TimePoint t);
// Reads RFC 3339 date-time text ("2026-11-25T16:39:12Z", "2026-11-25T17:39:12.25+01:00"), to the
// second: a fraction is dropped. Nothing when the text is not that, or the time is out of
// TimePoint's range (years 1678 to 2261).
std::optional<TimePoint> parse_rfc3339(std::string_view text);
// As `tctl tokens ls` shows it: "14 Jun 23 21:21 UTC".
std::string format_short_utc(TimePoint t);
// "20m15s", "1h0m0s", "12h": Go-style duration text.
std::string format_duration(std::chrono::seconds d);

}  // namespace tp
