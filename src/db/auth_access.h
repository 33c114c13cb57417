// What the agent asks of the Auth Service, behind one small interface with two
// implementations: over HTTPS through the proxy's web port (ALPN
// "teleport-auth", the agent's host certificate as client identity) for an
// agent in its own process, and direct calls for an agent running in the same
// process as the Auth Service (the all-in-one config). Calls block: run them
// off the io threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "auth/types.h"
#include "common/result.h"
#include "common/strings.h"
#include "db/host_identity.h"
#include "rbac/role.h"

namespace tp {
class AuthServer;
}

namespace tp::db {

inline constexpr const char* kAlpnAuth = "teleport-auth";

struct ClusterCas {
  std::string cluster_name;
  std::vector<std::string> host_ca_pems;
  std::vector<std::string> user_ca_pems;
};

class AuthAccess {
 public:
  virtual ~AuthAccess() = default;
  virtual Result<ClusterCas> cluster() = 0;
  // Every role, built-in ones included.
  virtual Result<std::vector<Role>> roles() = 0;
  virtual Status heartbeat(const DatabaseServer& server, std::chrono::seconds ttl) = 0;
  virtual Status remove_database_server(const std::string& db_name, const std::string& host_id) = 0;
  // Each event is one JSON object's text (see AuditLog).
  virtual Status emit_events(const std::vector<std::string>& events) = 0;
  // A new host certificate for `public_key_pem`: the answer has the join answer's shape.
  virtual Result<nlohmann::json> renew_host_cert(const std::string& public_key_pem,
                                                 const std::vector<std::string>& dns_names) = 0;
};

// Reads the current identity on every call, so a renewed certificate is used at once.
std::unique_ptr<AuthAccess> make_proxy_auth_access(HostPort proxy, std::function<HostIdentity()> identity);
std::unique_ptr<AuthAccess> make_local_auth_access(AuthServer& auth, std::string host_id);

struct JoinParams {
  HostPort proxy;
  std::string token;
  std::string host_id;
  std::string nodename;
  std::string public_key_pem;
  std::vector<std::string> dns_names;
};

// With CA pins configured: the cluster's host CA, fetched from the proxy
// (GET /v1/webapi/auth/export, unverified) and accepted only when its pin is
// one of `pins`, so the join token is sent only to the right cluster.
Result<std::string> fetch_pinned_host_ca(const HostPort& proxy, const std::vector<std::string>& pins);

// POST /v1/webapi/host/join on the proxy, without a client certificate. With
// `trusted_host_ca` the proxy must present a certificate of that CA (or, when it
// serves a public certificate, one the system trusts); without it the proxy is
// not verified and the caller must check the answer (check_ca_pins, verify_proxy).
Result<nlohmann::json> join_via_proxy(const JoinParams& params,
                                      const std::optional<std::string>& trusted_host_ca);

// Proves the proxy holds a certificate of the cluster's host CA and accepts
// the new identity: GET /v1/cluster over ALPN teleport-auth, fully verified.
Status verify_proxy(const HostPort& proxy, const HostIdentity& identity);

}  // namespace tp::db
