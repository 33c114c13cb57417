// A small synchronous HTTPS+JSON client: tctl and the agent calling the Auth
// Service API, tsh calling the proxy's web API. One connection per call.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/strings.h"
#include "net/tls.h"

namespace tp::net {

struct RawResponse {
  int status = 0;
  std::string body;
};

class HttpsClient {
 public:
  HttpsClient(HostPort addr, TlsClientConfig tls, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  // Non-2xx answers become the Error the server described.
  Result<nlohmann::json> call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr) const;
  Result<RawResponse> raw(const std::string& method, const std::string& path, const std::string& body,
                          const std::string& content_type = "application/json") const;

  const HostPort& addr() const { return addr_; }

 private:
  HostPort addr_;
  TlsClientConfig tls_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tp::net
