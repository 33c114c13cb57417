// The Auth Service HTTP/JSON API (versioned paths under /v1), served over
// mutual TLS on auth_service.listen_addr and, in process, behind the proxy's
// "teleport-auth" ALPN route. Every handler authorizes the caller first.
#pragma once

#include "auth/auth_server.h"
#include "net/http.h"

namespace tp {

class AuthApi {
 public:
  explicit AuthApi(AuthServer& auth);
  net::HttpResponse handle(const net::HttpRequest& request) const { return router_.dispatch(request); }

 private:
  // Admin: all. Db hosts: what an agent needs. Users: their roles' resource rules.
  Status authorize(const net::HttpRequest& request, const std::string& resource, const std::string& verb) const;

  AuthServer& auth_;
  net::Router router_;
};

}  // namespace tp
