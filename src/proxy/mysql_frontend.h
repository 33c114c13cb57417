// MySQL clients at the proxy's native listener (proxy_service.mysql_listen_addr; DESIGN section 2,
// step 3: "MySQL handshake then TLS"). A MySQL server speaks first, and the client's certificate
// (which says where to route) only arrives inside TLS, so the proxy runs the connection phase
// itself (dev.mysql.com "Connection Phase", "SSL Handshake"):
//
//   proxy  -> client  HandshakeV10, with CLIENT_SSL                         (sequence id 0)
//   client -> proxy   SSLRequest                                            (1)
//            TLS handshake with the proxy's database context; client certificate verified after
//   client -> proxy   HandshakeResponse41 (user, database; its auth data is ignored) (2)
//
// and then hands the connection to the agent with the *native handoff* as the dial's initial data:
// the greeting packet it sent followed by the client's response packet, both framed as on the wire
// (db/mysql/client_handshake.h reads it). The agent answers the client with sequence id 3.
// A client without TLS or without a certificate gets an ERR_Packet it displays, naming the tsh
// command to run. Asio-heavy: include only from .cc files.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/types.h"
#include "common/result.h"
#include "common/rng.h"
#include "net/server.h"
#include "proxy/peer_cert.h"

namespace tp::proxy {

// The greeting's server version when the registered databases do not agree on one.
inline constexpr std::string_view kDefaultMysqlServerVersion = "8.0.36-Teleport";

// The server version for the native listener's greeting, which goes out before the proxy knows
// the database: the databases' common `mysql.server_version` when every registered MySQL database
// advertises the same one (so a MariaDB-only cluster looks like MariaDB to clients), else the
// default. Pure.
std::string greeting_server_version(const std::vector<DatabaseServer>& servers);

// What the front end learned from a client that completed the connection phase.
struct MysqlClientLogin {
  PeerCert peer;  // the client certificate, verified
  std::string client_addr;
  std::string username;          // HandshakeResponse41: the database user it asks for
  std::string database;          // and the database ("" for none)
  uint64_t capabilities = 0;     // negotiated: the greeting's & the response's
  uint8_t next_sequence_id = 0;  // of the answer to the response (3)
  std::string handoff;           // the dial's initial data for the agent (see above)
};

// The ERR_Packet the proxy answers the response with when it cannot route the client (no agent
// serves the database, the certificate is for another protocol, ...): 1045 / 28000 for identity
// problems, 1105 / 08S01 when no agent answers, 1105 / HY000 otherwise.
std::string encode_login_error(const MysqlClientLogin& login, const Error& error);

// Routes a client that completed the connection phase: typically, dial an agent with
// `login.handoff` as initial data and relay; on failure answer with encode_login_error.
using MysqlRoute =
    std::function<boost::asio::awaitable<void>(net::TlsStream& client, MysqlClientLogin login)>;

struct MysqlFrontendOptions {
  std::string server_version;  // "" for kDefaultMysqlServerVersion
  // Verifies the client certificate of the established TLS connection (proxy/peer_cert.h).
  std::function<PeerCert(SSL*)> verify_peer;
  Rng* rng = nullptr;                        // scramble and connection id; null uses crypto_rng()
  std::chrono::milliseconds timeout{30000};  // for the whole connection phase
};

// One client of the native listener, from the greeting to the end of the routed session.
// `tls` is the proxy's database server context (client certificates optional, verified after).
boost::asio::awaitable<void> serve_mysql_client(net::tcp::socket socket, boost::asio::ssl::context& tls,
                                                MysqlFrontendOptions options, MysqlRoute route);

namespace internal {
class ProxyState;
// The listener's connection handler (the proxy's ConnectionHandler shape): serve_mysql_client
// with the proxy's database context and peer verification, the greeting version from the
// registered databases, and routing through the reverse tunnel.
boost::asio::awaitable<void> serve_mysql_native(std::shared_ptr<ProxyState> state, net::tcp::socket socket);
}  // namespace internal

}  // namespace tp::proxy
