#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "common/strings.h"

namespace tp::aws {
namespace {

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::tm utc_tm(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

std::string format_date(TimePoint t) {  // "20150830": the credential scope's date
  return format_amz_date(t).substr(0, 8);
}

// Headers SigV4 clients leave out of the signature: proxies and HTTP stacks may rewrite them
// (botocore's SIGNED_HEADERS_BLACKLIST plus the Authorization header itself).
bool never_signed(const std::string& lower_name) {
  return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "expect" ||
         lower_name == "x-amzn-trace-id";
}

// botocore's remove_dot_segments: drops "." and empty segments, ".." pops, keeps a trailing slash.
std::string remove_dot_segments(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string> out;
  for (auto& seg : split(path, '/', /*skip_empty=*/true)) {
    if (seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(seg);
  }
  std::string result = path.front() == '/' ? "/" : "";
  result += join(out, "/");
  if (path.back() == '/' && !out.empty()) result += '/';
  return result.empty() ? "/" : result;
}

void add_header(Headers& headers, std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  return out;
}

std::string uri_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi << 4 | lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

QueryParams parse_query_string(std::string_view raw) {
  QueryParams out;
  for (auto& pair : split(raw, '&', /*skip_empty=*/true)) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos) {
      out.emplace_back(uri_decode(pair), "");
    } else {
      out.emplace_back(uri_decode(std::string_view(pair).substr(0, eq)),
                       uri_decode(std::string_view(pair).substr(eq + 1)));
    }
  }
  return out;
}

std::string encode_query_string(const QueryParams& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += uri_encode(k) + "=" + uri_encode(v);
  }
  return out;
}

std::string format_amz_date(TimePoint t) {
  std::tm tm = utc_tm(t);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<TimePoint> parse_iso8601(std::string_view s) {
  std::string text = trim(s);
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(text).substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {  // fractional seconds: ignored
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z" || rest.empty()) {
    offset = 0;
  } else if ((rest.front() == '+' || rest.front() == '-') && rest.size() == 6 && rest[3] == ':') {
    int oh = std::atoi(std::string(rest.substr(1, 2)).c_str());
    int om = std::atoi(std::string(rest.substr(4, 2)).c_str());
    offset = (oh * 3600L + om * 60L) * (rest.front() == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t tt = timegm(&tm);
  return std::chrono::system_clock::from_time_t(tt - offset);
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return to_hex(md, sizeof md);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string credential_scope(TimePoint t, const SigningScope& scope) {
  return format_date(t) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

std::string derive_signing_key(std::string_view secret, TimePoint t, const SigningScope& scope) {
  std::string k_date = hmac_sha256("AWS4" + std::string(secret), format_date(t));
  std::string k_region = hmac_sha256(k_date, scope.region);
  std::string k_service = hmac_sha256(k_region, scope.service);
  return hmac_sha256(k_service, "aws4_request");
}

std::string canonical_uri(std::string_view path, bool normalize) {
  std::string p = normalize ? remove_dot_segments(path) : std::string(path);
  if (p.empty()) p = "/";
  return uri_encode(p, /*keep_slash=*/true);
}

std::string canonical_query_string(const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [k, v] : params) encoded.emplace_back(uri_encode(k), uri_encode(v));
  std::sort(encoded.begin(), encoded.end());  // by encoded key, then encoded value
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::vector<std::string> signed_header_names(const Headers& headers) {
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {
    std::string lower = to_lower(name);
    if (never_signed(lower)) continue;
    if (std::find(names.begin(), names.end(), lower) == names.end()) names.push_back(lower);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string canonical_headers(const Headers& headers, const std::vector<std::string>& names) {
  auto normalize_value = [](std::string_view v) {
    std::string out;
    bool in_space = false;
    for (char c : trim(v)) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        in_space = true;
        continue;
      }
      if (in_space) out.push_back(' ');
      in_space = false;
      out.push_back(c);
    }
    return out;
  };
  std::string out;
  for (const auto& name : names) {
    std::vector<std::string> values;
    for (const auto& [n, v] : headers) {
      if (to_lower(n) == name) values.push_back(normalize_value(v));
    }
    out += name + ":" + join(values, ",") + "\n";
  }
  return out;
}

std::string canonical_request(const SigningRequest& req, const std::vector<std::string>& names,
                              std::string_view payload_hash, bool normalize_path) {
  return req.method + "\n" + canonical_uri(req.path, normalize_path) + "\n" +
         canonical_query_string(req.query) + "\n" + canonical_headers(req.headers, names) + "\n" +
         join(names, ";") + "\n" + std::string(payload_hash);
}

std::string string_to_sign(TimePoint t, const SigningScope& scope, std::string_view canonical_request) {
  return std::string(kSigV4Algorithm) + "\n" + format_amz_date(t) + "\n" + credential_scope(t, scope) + "\n" +
         sha256_hex(canonical_request);
}

namespace {

void compute_signature(SignedRequest& out, const std::vector<std::string>& names, const Credentials& creds,
                       const SigningScope& scope, TimePoint t, bool normalize_path) {
  out.canonical_request = canonical_request(out.request, names, sha256_hex(out.request.body), normalize_path);
  out.string_to_sign = string_to_sign(t, scope, out.canonical_request);
  out.signature =
      to_hex(hmac_sha256(derive_signing_key(creds.secret_access_key, t, scope), out.string_to_sign));
}

}  // namespace

SignedRequest sign_request(const SigningRequest& req, const Credentials& creds, const SigningScope& scope,
                           TimePoint t, const SigningOptions& options) {
  SignedRequest out;
  out.request = req;
  Headers& h = out.request.headers;
  add_header(h, "X-Amz-Date", format_amz_date(t));
  if (options.add_content_sha256) add_header(h, "X-Amz-Content-Sha256", sha256_hex(req.body));
  bool token_signed = !creds.session_token.empty() && !options.omit_session_token;
  if (token_signed) add_header(h, "X-Amz-Security-Token", creds.session_token);
  std::vector<std::string> names = signed_header_names(h);
  compute_signature(out, names, creds, scope, t, options.normalize_path);
  if (!creds.session_token.empty() && !token_signed)
    add_header(h, "X-Amz-Security-Token", creds.session_token);
  out.authorization = std::string(kSigV4Algorithm) + " Credential=" + creds.access_key_id + "/" +
                      credential_scope(t, scope) + ", SignedHeaders=" + join(names, ";") +
                      ", Signature=" + out.signature;
  add_header(h, "Authorization", out.authorization);
  return out;
}

SignedRequest presign_request(const SigningRequest& req, const Credentials& creds, const SigningScope& scope,
                              TimePoint t, const SigningOptions& options) {
  SignedRequest out;
  out.request = req;
  std::vector<std::string> names = signed_header_names(req.headers);
  QueryParams& q = out.request.query;
  q.emplace_back("X-Amz-Algorithm", std::string(kSigV4Algorithm));
  q.emplace_back("X-Amz-Credential", creds.access_key_id + "/" + credential_scope(t, scope));
  q.emplace_back("X-Amz-Date", format_amz_date(t));
  q.emplace_back("X-Amz-Expires", std::to_string(options.expires.count()));
  q.emplace_back("X-Amz-SignedHeaders", join(names, ";"));
  bool token_signed = !creds.session_token.empty() && !options.omit_session_token;
  if (token_signed) q.emplace_back("X-Amz-Security-Token", creds.session_token);
  compute_signature(out, names, creds, scope, t, options.normalize_path);
  if (!creds.session_token.empty() && !token_signed)
    q.emplace_back("X-Amz-Security-Token", creds.session_token);
  q.emplace_back("X-Amz-Signature", out.signature);
  return out;
}

}  // namespace tp::aws
