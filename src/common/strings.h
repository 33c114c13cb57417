// Small text helpers shared by every component.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tp {

std::string to_hex(std::string_view bytes);
std::string to_hex(const uint8_t* data, size_t n);
// Appends the lowercase hex of `data` to `out`.
void append_hex(std::string& out, const uint8_t* data, size_t n);
Result<std::string> from_hex(std::string_view hex);
std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);  // no padding

std::vector<std::string> split(std::string_view s, char sep, bool skip_empty = true);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string trim(std::string_view s);
std::string to_lower(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);

// "a,b,c" -> {"a","b","c"}, trimming each and dropping empties.
std::vector<std::string> split_list(std::string_view s);
// "env=dev,team=db" -> {env: dev, team: db}. Errors name the bad pair.
Result<std::map<std::string, std::string>> parse_labels(std::string_view s);
std::string format_labels(const std::map<std::string, std::string>& labels);

// Go-style durations: "30s", "15m", "1h30m", "12h". Bare numbers are seconds.
Result<std::chrono::seconds> parse_duration(std::string_view s);

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const;
};
// "host:port", "[::1]:port". With default_port, the port may be omitted.
Result<HostPort> parse_host_port(std::string_view s, std::optional<uint16_t> default_port = std::nullopt);

// Constant-time comparison for secrets.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tp
