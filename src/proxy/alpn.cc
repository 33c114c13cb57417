#include "proxy/alpn.h"

#include "tunnel/tunnel.h"

namespace tp::proxy {

std::vector<std::string> web_alpn_protocols() {
  return {kAlpnPostgres, kAlpnMysql, tunnel::kAlpnReverseTunnel, kAlpnAuth, kAlpnHttp};
}

WebRoute route_for_alpn(std::string_view negotiated) {
  if (negotiated == kAlpnPostgres) return WebRoute::kPostgres;
  if (negotiated == kAlpnMysql) return WebRoute::kMysql;
  if (negotiated == tunnel::kAlpnReverseTunnel) return WebRoute::kReverseTunnel;
  if (negotiated == kAlpnAuth) return WebRoute::kAuth;
  return WebRoute::kHttp;
}

const char* web_route_name(WebRoute route) {
  switch (route) {
    case WebRoute::kHttp: return "http";
    case WebRoute::kPostgres: return "postgres";
    case WebRoute::kMysql: return "mysql";
    case WebRoute::kReverseTunnel: return "reverse tunnel";
    case WebRoute::kAuth: return "auth api";
  }
  return "unknown";
}

std::string alpn_for_db_protocol(std::string_view protocol) {
  if (protocol == "postgres") return kAlpnPostgres;
  if (protocol == "mysql") return kAlpnMysql;
  return "";
}

}  // namespace tp::proxy
