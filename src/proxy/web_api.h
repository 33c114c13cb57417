// The proxy's HTTP/JSON API on the web port (issue 3): discovery (find, ping), password login,
// invites, agent joining, and what a logged-in user asks for (databases, database certificates).
// Synchronous handlers over the in-process AuthServer; the listener (proxy_service.cc) feeds them.
//
//   GET  /v1/webapi/find, /v1/webapi/ping      cluster name, version, public addresses, 2nd factor
//   GET  /v1/webapi/auth/export?type=tls-host  the cluster's CA certificates (PEM; public)
//   POST /v1/webapi/login                      {user, password, totp_code, public_key, ttl_seconds}
//   GET  /web/invite/:token                    HTML page with a password form
//   POST /v1/webapi/users/invite/:token        {password} (JSON or form-encoded)
//   POST /v1/webapi/host/join                  {token, host_id, nodename, role, public_key, dns_names}
//   GET  /v1/webapi/databases                  user certificate required
//   POST /v1/webapi/certs/db                   {public_key, db_name, db_user, db_database}; user cert
#pragma once

#include <string>

#include "auth/auth_server.h"
#include "net/http.h"
#include "service/config.h"

namespace tp::proxy {

// Where users and agents reach this proxy ("host:port"); "" for a listener that is off.
struct PublicAddrs {
  std::string web;
  std::string postgres;
  std::string mysql;
  std::string tunnel;
};

// The public forms of the configured listeners: the host of proxy_service.public_addr (else the
// nodename, else localhost) with each listener's port. `mysql_listening` says whether the MySQL
// listener actually runs.
Result<PublicAddrs> public_addrs(const TeleportConfig& config, bool mysql_listening);

struct WebApiConfig {
  PublicAddrs addrs;
  std::string second_factor = "off";
};

// The verified client certificate's failure, handed from the listener to the handlers in this
// request header (the listener removes any client-sent header of that name first).
inline constexpr const char* kPeerCertErrorHeader = "x-teleport-peer-cert-error";

class WebApi {
 public:
  WebApi(AuthServer& auth, WebApiConfig config);
  // The routes capture `this`: the object stays where it was built.
  WebApi(const WebApi&) = delete;
  WebApi& operator=(const WebApi&) = delete;
  net::HttpResponse handle(const net::HttpRequest& request) const;

 private:
  Result<Identity> caller(const net::HttpRequest& request) const;
  nlohmann::json ping_json() const;

  AuthServer& auth_;
  WebApiConfig config_;
  net::Router router_;
};

}  // namespace tp::proxy
