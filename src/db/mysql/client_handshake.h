// The client's half of the MySQL connection phase, as the agent sees it (dev.mysql.com "Connection
// Phase"). Pure: bytes in, values and bytes out. A session arrives one of two ways:
//
//  - TLS routing (ALPN teleport-mysql on the proxy's web port: `tsh proxy db --tunnel`, and
//    `tsh db connect` through its local proxy). Nothing has been said yet, so the agent is the
//    server the client talks to: it sends Protocol::HandshakeV10 (no CLIENT_SSL: the hop is TLS
//    already; mysql_native_password with a fresh scramble) and reads Protocol::HandshakeResponse41.
//
//  - The proxy's native listener (proxy_service.mysql_listen_addr). The proxy greeted the client,
//    read its SSLRequest, did the TLS handshake and read the HandshakeResponse41, so it can route by
//    the client certificate. It hands the exchange over in DialRequest::initial_data, the
//    *native handoff*:
//
//        initial_data = <the HandshakeV10 packet the proxy sent, framed as on the wire (seq 0)>
//                       <the client's HandshakeResponse41 packet, framed as on the wire (seq 2)>
//
//    Nothing but MySQL packets, so both ends share the format through the codec alone. A MySQL
//    client never speaks before the server greets it, so on the TLS-routed path initial_data is
//    always empty: non-empty initial data is a handoff. From the greeting the agent learns the
//    capabilities the client negotiated; from the response's sequence id, the id of its answer.
//
// In both cases the client's auth response is ignored: the client proved who it is with its
// certificate, and the agent logs in to the real server with its own credentials.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/rng.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/response.h"

namespace tp::db {

// What the greeting says when db.mysql_server_version is not set.
inline constexpr std::string_view kDefaultMysqlServerVersion = "8.0.36-Teleport";

// Capabilities the agent's greeting offers: those every MySQL 5.7+ and MariaDB 10.2+ server has,
// so the upstream connection can be negotiated with exactly the same ones and the relay can copy
// bytes unchanged (see upstream_capabilities). Left out: CLIENT_SSL (the hop is TLS already),
// CLIENT_COMPRESS (the relay reads packets), MySQL 8's query attributes and optional metadata,
// and MariaDB's extended capabilities (the greeting sets CLIENT_MYSQL).
inline constexpr uint64_t kAgentGreetingCapabilities =
    mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_LONG_FLAG |
    mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_NO_SCHEMA | mysql::CLIENT_ODBC | mysql::CLIENT_LOCAL_FILES |
    mysql::CLIENT_IGNORE_SPACE | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_INTERACTIVE |
    mysql::CLIENT_IGNORE_SIGPIPE | mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_SECURE_CONNECTION |
    mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS | mysql::CLIENT_PS_MULTI_RESULTS |
    mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_CONNECT_ATTRS | mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
    mysql::CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | mysql::CLIENT_SESSION_TRACK | mysql::CLIENT_DEPRECATE_EOF;

// The client, once its HandshakeResponse41 is in.
struct MysqlClientHello {
  mysql::HandshakeResponse41 response;
  uint64_t capabilities = 0;     // negotiated: the greeting's & the response's
  uint8_t next_sequence_id = 0;  // of the agent's answer (OK or ERR) to the response
  std::string server_version;    // what the client was told it talks to
  bool native_handoff = false;   // the proxy's native listener greeted it
};

// The greeting for a TLS-routed session: `server_version` ("" for the default), a fresh scramble.
mysql::HandshakeV10 make_client_greeting(std::string_view server_version, uint32_t connection_id, Rng& rng);

// Takes the client's HandshakeResponse41 (sequence id 1) from the front of `buffer`, answering
// `greeting`. nullopt: more bytes are needed. Errors: an SSLRequest (no TLS was offered), a
// response that is malformed, pre-4.1 or larger than kMaxHandshakeResponse.
Result<std::optional<MysqlClientHello>> take_client_hello(const mysql::HandshakeV10& greeting,
                                                          std::string& buffer);
inline constexpr size_t kMaxHandshakeResponse = 64 * 1024;

// The native listener's handoff (see above). Errors name what is missing or malformed.
Result<MysqlClientHello> parse_native_handoff(std::string_view initial_data);

// The answers to the HandshakeResponse41, numbered and laid out for this client.
std::string encode_client_auth_ok(const MysqlClientHello& hello, uint16_t status_flags);
std::string encode_client_error(const MysqlClientHello& hello, const mysql::ErrPacket& err);

// The ERR_Packet a session refusal becomes: 1045 ER_ACCESS_DENIED_ERROR / 28000 for identity and
// access problems (the client shows "ERROR 1045 (28000): <why>"), 1105 ER_UNKNOWN_ERROR / 08S01 when
// the database cannot be reached, 1043 ER_HANDSHAKE_ERROR / 08S01 for protocol errors, 1105 / HY000
// otherwise. Never a 2xxx code: those are client-library codes, which libmariadb refuses from a server.
mysql::ErrPacket err_packet_for(const Error& error);

}  // namespace tp::db
