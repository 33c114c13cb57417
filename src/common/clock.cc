#include "common/clock.h"

#include <ctime>
#include <type_traits>

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

std::string format_rfc3339(TimePoint t) {
  // Every audit event carries one: computed from the calendar, without gmtime_r's lock and
  // strftime's parsing. A TimePoint (64-bit nanoseconds) spans the years 1677 to 2262, so the
  // year always has four digits.
  using namespace std::chrono;
  static_assert(std::is_same_v<TimePoint::period, std::nano>);
  const auto second = floor<seconds>(t);
  const auto day = floor<days>(second);  // in seconds from here: no nanoseconds to overflow
  const year_month_day date(day);
  const int y = static_cast<int>(date.year());
  const hh_mm_ss<seconds> time(second - day);
  char out[] = "0000-00-00T00:00:00Z";
  auto two = [&out](size_t at, unsigned v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, static_cast<unsigned>(y) / 100);
  two(2, static_cast<unsigned>(y) % 100);
  two(5, static_cast<unsigned>(date.month()));
  two(8, static_cast<unsigned>(date.day()));
  two(11, static_cast<unsigned>(time.hours().count()));
  two(14, static_cast<unsigned>(time.minutes().count()));
  two(17, static_cast<unsigned>(time.seconds().count()));
  return std::string(out, sizeof out - 1);
}

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  size_t at = 0;
  // Reads exactly `n` digits.
  auto digits = [&](size_t n, int& out) {
    if (at + n > text.size()) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i, ++at) {
      const char c = text[at];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  auto expect = [&](std::string_view one_of) {
    if (at >= text.size() || one_of.find(text[at]) == std::string_view::npos) return false;
    ++at;
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!digits(4, y) || !expect("-") || !digits(2, mo) || !expect("-") || !digits(2, d) || !expect("Tt ") ||
      !digits(2, h) || !expect(":") || !digits(2, mi) || !expect(":") || !digits(2, s))
    return std::nullopt;
  if (at < text.size() && text[at] == '.') {
    const size_t first = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    if (at == first) return std::nullopt;
  }
  int offset_minutes = 0;
  if (expect("Zz")) {
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    const int sign = text[at++] == '-' ? -1 : 1;
    int oh, om;
    if (!digits(2, oh) || !expect(":") || !digits(2, om) || oh > 23 || om > 59) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  const year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  // 60 is a leap second, which the Unix time scale folds into the next.
  if (at != text.size() || !date.ok() || h > 23 || mi > 59 || s > 60 || y < 1678 || y > 2261)
    return std::nullopt;
  const sys_seconds t = sys_days(date) + hours(h) + minutes(mi) + seconds(s) - minutes(offset_minutes);
  return TimePoint(duration_cast<TimePoint::duration>(t.time_since_epoch()));
}

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
