// Where an AWS API call goes, and URL parsing for the transport.
// Overrides follow the AWS SDKs' "service-specific endpoints" convention: AWS_ENDPOINT_URL_<SERVICE>
// first, then AWS_ENDPOINT_URL — which is how tests point the client at a local API double.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aws/env.h"
#include "common/result.h"

namespace tp::aws {

struct Url {
  std::string scheme;        // "http" or "https"
  std::string host;          // without brackets for IPv6
  uint16_t port = 0;         // explicit or the scheme's default
  std::string target = "/";  // path and query, always starting with '/'
  // The Host header value: lowercase host, port only when not the scheme's default (as botocore).
  std::string host_header() const;
};

// "https://host[:port][/path][?query]"; http and https only.
Result<Url> parse_url(std::string_view url);

struct Endpoint {
  std::string url;             // base URL, e.g. "https://rds.us-east-1.amazonaws.com"
  std::string signing_region;  // IAM and global STS sign for us-east-1
};

// service: the endpoint prefix, lowercase ("rds", "sts", "iam"). region may be empty only for
// sts (global endpoint) and iam.
Result<Endpoint> resolve_endpoint(std::string_view service, std::string_view region, const Env& env);

}  // namespace tp::aws
