// HTTP for the AWS client: a small value-in, value-out interface so every API call can be tested
// with a fake, and one real implementation (Boost.Beast, confined to http_transport.cc because it
// compiles slowly — keep Asio/Beast out of this header).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tp::aws {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // "https://sts.us-east-1.amazonaws.com/", "http://127.0.0.1:4566/path?x=1"
  HttpHeaders headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

// Case-insensitive lookup of the first header with this name.
std::optional<std::string> find_header(const HttpHeaders& headers, std::string_view name);

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Fails (kUnavailable) on DNS, connect, TLS or timeout errors; any HTTP status is a response.
  virtual Result<HttpResponse> send(const HttpRequest& request, std::chrono::milliseconds timeout) = 0;
};

struct HttpTransportOptions {
  // PEM bundle to trust for https; empty = the system's default CA paths.
  std::string ca_file;
  size_t max_response_bytes = 16 * 1024 * 1024;
};

// Synchronous HTTP/1.1 over Boost.Beast: http:// and https:// (peer and host name verified,
// SNI sent). One connection per request; AWS calls here are rare (discovery, credentials).
std::unique_ptr<HttpTransport> make_http_transport(HttpTransportOptions options = {});

}  // namespace tp::aws
