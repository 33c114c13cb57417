// TLS routing on the proxy's web port (DESIGN section 2, step 3): the ALPN protocol a client asks for
// decides what the connection carries. Pure: no sockets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tp::proxy {

inline constexpr const char* kAlpnPostgres = "teleport-postgres";
inline constexpr const char* kAlpnMysql = "teleport-mysql";
inline constexpr const char* kAlpnAuth = "teleport-auth";
inline constexpr const char* kAlpnHttp = "http/1.1";
// kAlpnReverseTunnel ("teleport-reversetunnel") lives in tunnel/tunnel.h with the agent side.

enum class WebRoute { kHttp, kPostgres, kMysql, kReverseTunnel, kAuth };

// What the web listener offers, in server preference order (HTTP last, so a client offering both a
// teleport protocol and http/1.1 gets the teleport one).
std::vector<std::string> web_alpn_protocols();

// Where a negotiated ALPN value goes. No ALPN ("", e.g. curl without --alpn, or a browser that did
// not offer any) is HTTP.
WebRoute route_for_alpn(std::string_view negotiated);
const char* web_route_name(WebRoute route);

// The ALPN a local proxy asks for to reach a database of this protocol ("postgres", "mysql"); ""
// for an unknown protocol.
std::string alpn_for_db_protocol(std::string_view protocol);

}  // namespace tp::proxy
