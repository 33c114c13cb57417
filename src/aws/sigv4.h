// AWS Signature Version 4: pure functions over a request value, no I/O.
// Spec: AWS General Reference, "Signature Version 4 signing process" (create a canonical request,
// create a string to sign, calculate the signature, add it as an Authorization header or as
// presigned query parameters). Checked against the aws-c-auth SigV4 test suite and botocore.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace tp::aws {

// Long-lived (IAM user) or temporary (STS) credentials.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;            // empty for long-lived keys
  std::optional<TimePoint> expiration;  // unset for long-lived keys
  std::string source;                   // where they came from, for messages: "environment", ...
};

// Decoded key/value pairs in insertion order. The order matters for the URL a presigner builds
// (botocore puts operation parameters first); the canonical query string is sorted anyway.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct SigningRequest {
  std::string method;  // "GET", "POST"
  // The path as it goes on the wire. SigV4 URI-encodes it once more for the canonical request
  // (every service but S3), so a literal space here becomes "%20" there.
  std::string path = "/";
  QueryParams query;
  Headers headers;  // must include "Host"
  std::string body;
};

struct SigningScope {
  std::string region;
  std::string service;  // signing name: "sts", "rds", "iam", "rds-db"
};

struct SigningOptions {
  bool normalize_path = true;         // remove "." / ".." segments and duplicate slashes
  bool add_content_sha256 = false;    // header signing: add and sign X-Amz-Content-Sha256
  bool omit_session_token = false;    // add X-Amz-Security-Token after signing (unsigned)
  std::chrono::seconds expires{900};  // presigned query only: X-Amz-Expires
};

// Everything the signer computed, so tests and error messages can show each step.
struct SignedRequest {
  SigningRequest request;  // the input plus the added headers or query parameters
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // lowercase hex
  std::string authorization;  // header signing only
};

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";

// RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) pass; every other byte is %XX (uppercase).
std::string uri_encode(std::string_view s, bool keep_slash = false);
// Decodes %XX; '+' stays '+'. Malformed escapes are kept literally.
std::string uri_decode(std::string_view s);
// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}}; a key without '=' gets an empty value.
QueryParams parse_query_string(std::string_view raw);
// Encodes each key and value with uri_encode and joins in the given order.
std::string encode_query_string(const QueryParams& params);

// "20150830T123600Z"
std::string format_amz_date(TimePoint t);
// "2015-08-30T12:36:00Z", with optional fractional seconds and "+00:00" / "Z" offsets.
std::optional<TimePoint> parse_iso8601(std::string_view s);

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw bytes

// "<date>/<region>/<service>/aws4_request"
std::string credential_scope(TimePoint t, const SigningScope& scope);
std::string derive_signing_key(std::string_view secret, TimePoint t, const SigningScope& scope);

std::string canonical_uri(std::string_view path, bool normalize);
std::string canonical_query_string(const QueryParams& params);
// Lowercase names, sorted, joined with ';'. Skips headers SigV4 clients never sign.
std::vector<std::string> signed_header_names(const Headers& headers);
// "name:value\n" per signed header: values trimmed, inner whitespace runs collapsed, repeated
// headers joined with ','.
std::string canonical_headers(const Headers& headers, const std::vector<std::string>& names);
std::string canonical_request(const SigningRequest& req, const std::vector<std::string>& names,
                              std::string_view payload_hash, bool normalize_path);
std::string string_to_sign(TimePoint t, const SigningScope& scope, std::string_view canonical_request);

// Adds X-Amz-Date (and X-Amz-Security-Token) and an Authorization header.
SignedRequest sign_request(const SigningRequest& req, const Credentials& creds, const SigningScope& scope,
                           TimePoint t, const SigningOptions& options = {});
// Adds X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
// X-Amz-Security-Token and finally X-Amz-Signature to the query, in botocore's order.
SignedRequest presign_request(const SigningRequest& req, const Credentials& creds, const SigningScope& scope,
                              TimePoint t, const SigningOptions& options = {});

}  // namespace tp::aws
