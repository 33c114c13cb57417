// Runs every case of the AWS SigV4 test suite (tests/data/aws-sigv4-test-suite, from
// awslabs/aws-c-auth; see its NOTICE.md): header signing (canonical request, string to sign,
// signature, Authorization) and presigned query signing (canonical request, string to sign,
// signature).
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/strings.h"

namespace tp::aws {
namespace {

namespace fs = std::filesystem;
const std::string kSuiteDir = std::string(TP_TEST_DATA_DIR) + "/aws-sigv4-test-suite";

std::string read(const fs::path& p) {
  auto r = read_file(p.string());
  EXPECT_TRUE(r.ok()) << p;
  return r.ok() ? *r : "";
}

// request.txt: "METHOD PATH[?QUERY] HTTP/1.1", "Name:value" headers (an indented line continues
// the previous value), an empty line, then the body. The path may hold raw spaces and UTF-8.
SigningRequest parse_request_file(const std::string& text) {
  SigningRequest req;
  size_t pos = 0;
  auto next_line = [&](std::string& line) {
    if (pos > text.size()) return false;
    size_t nl = text.find('\n', pos);
    line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    return true;
  };
  std::string line;
  next_line(line);
  size_t sp = line.find(' ');
  req.method = line.substr(0, sp);
  std::string target = line.substr(sp + 1);
  if (ends_with(target, " HTTP/1.1")) target.resize(target.size() - 9);
  size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = parse_query_string(target.substr(q + 1));
  while (next_line(line)) {
    if (line.empty()) {
      if (pos <= text.size()) req.body = text.substr(pos);
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !req.headers.empty()) {
      req.headers.back().second += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return req;
}

struct SuiteCase {
  std::string name;
  SigningRequest request;
  Credentials creds;
  SigningScope scope;
  TimePoint time;
  SigningOptions options;
};

SuiteCase load_case(const std::string& name) {
  fs::path dir = fs::path(kSuiteDir) / name;
  SuiteCase c;
  c.name = name;
  c.request = parse_request_file(read(dir / "request.txt"));
  auto ctx = nlohmann::json::parse(read(dir / "context.json"));
  c.creds.access_key_id = ctx["credentials"]["access_key_id"];
  c.creds.secret_access_key = ctx["credentials"]["secret_access_key"];
  c.creds.session_token = ctx["credentials"].value("token", "");
  c.scope = {ctx["region"], ctx["service"]};
  c.time = *parse_iso8601(ctx["timestamp"].get<std::string>());
  c.options.normalize_path = ctx.value("normalize", true);
  c.options.add_content_sha256 = ctx.value("sign_body", false);
  c.options.omit_session_token = ctx.value("omit_session_token", false);
  c.options.expires = std::chrono::seconds(ctx.value("expiration_in_seconds", 3600));
  return c;
}

std::vector<std::string> suite_cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kSuiteDir)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The "Authorization:..." line of header-signed-request.txt.
std::string authorization_line(const std::string& signed_request) {
  for (auto& line : split(signed_request, '\n')) {
    if (starts_with(line, "Authorization:")) return trim(line.substr(14));
  }
  return "";
}

TEST(SigV4Suite, HasAllCases) {
  // aws-c-auth's v4 suite as copied: guards against a partial copy silently shrinking coverage.
  EXPECT_EQ(suite_cases().size(), 38u);
}

class SigV4SuiteTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4SuiteTest, HeaderSigning) {
  SuiteCase c = load_case(GetParam());
  fs::path dir = fs::path(kSuiteDir) / c.name;
  SignedRequest s = sign_request(c.request, c.creds, c.scope, c.time, c.options);
  EXPECT_EQ(s.canonical_request, read(dir / "header-canonical-request.txt"));
  EXPECT_EQ(s.string_to_sign, read(dir / "header-string-to-sign.txt"));
  EXPECT_EQ(s.signature, trim(read(dir / "header-signature.txt")));
  EXPECT_EQ(s.authorization, authorization_line(read(dir / "header-signed-request.txt")));
}

TEST_P(SigV4SuiteTest, QuerySigning) {
  SuiteCase c = load_case(GetParam());
  fs::path dir = fs::path(kSuiteDir) / c.name;
  SignedRequest s = presign_request(c.request, c.creds, c.scope, c.time, c.options);
  EXPECT_EQ(s.canonical_request, read(dir / "query-canonical-request.txt"));
  EXPECT_EQ(s.string_to_sign, read(dir / "query-string-to-sign.txt"));
  EXPECT_EQ(s.signature, trim(read(dir / "query-signature.txt")));
  ASSERT_FALSE(s.request.query.empty());
  EXPECT_EQ(s.request.query.back(), (std::pair<std::string, std::string>{"X-Amz-Signature", s.signature}));
  // Every parameter of the suite's signed URL is in ours (the order of the URL is free).
  std::string first = read(dir / "query-signed-request.txt");
  first = first.substr(0, first.find('\n'));
  size_t q = first.find('?');
  ASSERT_NE(q, std::string::npos);
  std::string raw = first.substr(q + 1, first.rfind(" HTTP/1.1") - q - 1);
  QueryParams expected = parse_query_string(raw), actual = s.request.query;
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  EXPECT_EQ(actual, expected);
}

INSTANTIATE_TEST_SUITE_P(AwsCAuth, SigV4SuiteTest, ::testing::ValuesIn(suite_cases()), [](const auto& info) {
  std::string n = info.param;
  for (char& ch : n)
    if (ch == '-') ch = '_';
  return n;
});

TEST(SigV4, UriEncode) {
  EXPECT_EQ(uri_encode("a b/c~d-e.f_g+h=i&j"), "a%20b%2Fc~d-e.f_g%2Bh%3Di%26j");
  EXPECT_EQ(uri_encode("/a b/", /*keep_slash=*/true), "/a%20b/");
  EXPECT_EQ(uri_encode("\xe1\x88\xb4"), "%E1%88%B4");
  EXPECT_EQ(uri_decode("%E1%88%B4=x%2"), "\xe1\x88\xb4=x%2");
}

TEST(SigV4, DatesAndKeys) {
  auto t = parse_iso8601("2015-08-30T12:36:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_amz_date(*t), "20150830T123600Z");
  EXPECT_EQ(parse_iso8601("2015-08-30T12:36:00.000Z"), t);
  EXPECT_EQ(parse_iso8601("2015-08-30T14:36:00+02:00"), t);
  EXPECT_FALSE(parse_iso8601("yesterday"));
  // The signing key example of the AWS General Reference ("Examples of how to derive a signing key").
  auto day = parse_iso8601("2012-02-15T00:00:00Z");
  EXPECT_EQ(
      to_hex(derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", *day, {"us-east-1", "iam"})),
      "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4, PresignOrderMatchesBotocore) {
  SigningRequest req{"GET", "/", {{"Action", "connect"}}, {{"host", "db:5432"}}, ""};
  Credentials creds{"AK", "SK", "TOKEN", std::nullopt, ""};
  auto s = presign_request(req, creds, {"us-east-1", "rds-db"}, *parse_iso8601("2015-08-30T12:36:00Z"));
  std::vector<std::string> keys;
  for (auto& [k, v] : s.request.query) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"Action", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                            "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Security-Token",
                                            "X-Amz-Signature"}));
}

}  // namespace
}  // namespace tp::aws
