#include "common/strings.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tp {

void append_hex(std::string& out, const uint8_t* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xf]);
  }
}

std::string to_hex(const uint8_t* data, size_t n) {
  std::string out;
  out.reserve(n * 2);
  append_hex(out, data, n);
  return out;
}

std::string to_hex(std::string_view bytes) {
  return to_hex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2) return invalid_argument("hex string has odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return invalid_argument("not a hex string");
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string in = trim(text);
  if (in.size() % 4) return invalid_argument("base64 text has a bad length");
  std::string out(3 * in.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return invalid_argument("not base64 text");
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  std::string s = base64_encode(bytes);
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::vector<std::string> split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    std::string_view part = s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start);
    if (!(skip_empty && part.empty())) out.emplace_back(part);
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view x) {
  return s.size() >= x.size() && s.substr(s.size() - x.size()) == x;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  for (auto& part : split(s, ',')) {
    auto t = trim(part);
    if (!t.empty()) out.push_back(t);
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_labels(std::string_view s) {
  std::map<std::string, std::string> out;
  for (auto& pair : split_list(s)) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      return invalid_argument("label \"" + pair + "\" is not in the form key=value (e.g. env=dev)");
    out[trim(pair.substr(0, eq))] = trim(pair.substr(eq + 1));
  }
  return out;
}

std::string format_labels(const std::map<std::string, std::string>& labels) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(k + "=" + v);
  return join(parts, ",");
}

Result<std::chrono::seconds> parse_duration(std::string_view s) {
  std::string t = trim(s);
  if (t.empty()) return invalid_argument("empty duration");
  int64_t total = 0;
  size_t i = 0;
  bool any = false;
  while (i < t.size()) {
    size_t j = i;
    while (j < t.size() && std::isdigit(static_cast<unsigned char>(t[j]))) ++j;
    if (j == i) return invalid_argument("bad duration \"" + t + "\" (use e.g. 30s, 15m, 1h30m)");
    int64_t n = 0;
    std::from_chars(t.data() + i, t.data() + j, n);
    int64_t unit = 1;
    if (j < t.size()) {
      char u = t[j];
      if (u == 's') unit = 1;
      else if (u == 'm') unit = 60;
      else if (u == 'h') unit = 3600;
      else if (u == 'd') unit = 86400;
      else return invalid_argument("bad duration unit in \"" + t + "\" (use s, m, h or d)");
      ++j;
    } else if (any) {
      return invalid_argument("bad duration \"" + t + "\": a number needs a unit");
    }
    total += n * unit;
    any = true;
    i = j;
  }
  return std::chrono::seconds(total);
}

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> parse_host_port(std::string_view s, std::optional<uint16_t> default_port) {
  std::string t = trim(s);
  for (const char* scheme : {"https://", "http://", "tcp://"})
    if (starts_with(t, scheme)) t = t.substr(std::string_view(scheme).size());
  while (!t.empty() && t.back() == '/') t.pop_back();
  HostPort hp;
  std::string port_text;
  if (!t.empty() && t[0] == '[') {
    auto close = t.find(']');
    if (close == std::string::npos) return invalid_argument("address \"" + t + "\": missing ']'");
    hp.host = t.substr(1, close - 1);
    if (close + 1 < t.size()) {
      if (t[close + 1] != ':') return invalid_argument("address \"" + t + "\": expected ':' after ']'");
      port_text = t.substr(close + 2);
    }
  } else {
    auto colon = t.rfind(':');
    if (colon == std::string::npos) {
      hp.host = t;
    } else {
      hp.host = t.substr(0, colon);
      port_text = t.substr(colon + 1);
    }
  }
  if (hp.host.empty()) return invalid_argument("address \"" + t + "\": missing host (use host:port)");
  if (port_text.empty()) {
    if (!default_port) return invalid_argument("address \"" + t + "\": missing port (use host:port)");
    hp.port = *default_port;
    return hp;
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return invalid_argument("address \"" + t + "\": bad port \"" + port_text + "\"");
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tp
