#include "common/clock.h"

#include <ctime>

namespace tp {

SystemClock& system_clock() {
  static SystemClock c;
  return c;
}

int64_t to_unix_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint from_unix_seconds(int64_t s) { return TimePoint(std::chrono::seconds(s)); }

namespace {
std::string format_utc(TimePoint t, const char* fmt) {
  std::time_t tt = to_unix_seconds(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}
}  // namespace

std::string format_rfc3339(TimePoint t) { return format_utc(t, "%Y-%m-%dT%H:%M:%SZ"); }
std::string format_short_utc(TimePoint t) { return format_utc(t, "%d %b %y %H:%M UTC"); }

std::string format_duration(std::chrono::seconds d) {
  int64_t s = d.count();
  std::string out;
  if (s < 0) {
    out = "-";
    s = -s;
  }
  int64_t h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(sec) + "s";
  return out;
}

}  // namespace tp
