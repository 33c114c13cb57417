// A small synchronous HTTPS+JSON client: tctl and the agent calling the Auth
// Service API, tsh calling the proxy's web API. One connection per call, unless
// the client keeps its connection alive (see keep_alive()).
#pragma once

#include <chrono>
#include <memory>
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

  // Keeps one TLS connection (and one TLS context) open across calls, for a
  // caller that calls often, like the agent's audit uploader: a handshake per
  // call costs more CPU than the call. Calls through one such client (and its
  // copies) take turns. A request whose reused connection turns out closed by
  // the server before anything was answered is sent again on a new one.
  HttpsClient& keep_alive();

 private:
  struct Connection;
  Result<RawResponse> raw_on_kept_connection(const std::string& method, const std::string& path,
                                             const std::string& body, const std::string& content_type) const;

  HostPort addr_;
  TlsClientConfig tls_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<Connection> kept_;  // set by keep_alive()
};

}  // namespace tp::net
