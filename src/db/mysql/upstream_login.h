// The agent's login to the real MySQL / MariaDB server (DESIGN section 2, step 6; dev.mysql.com
// "Connection Phase", "Authentication Methods"). Reads the server's Protocol::HandshakeV10, asks for
// TLS with Protocol::SSLRequest, then (after the caller's TLS handshake) sends
// Protocol::HandshakeResponse41 as the route's db user with the route's database, and answers the
// server's authentication requests with the upstream credential (a password or an RDS IAM token):
//   - mysql_native_password;
//   - caching_sha2_password: the fast path, and full authentication (the password in clear, which
//     is safe because this login only ever runs inside TLS);
//   - mysql_clear_password, which RDS IAM authentication and MariaDB's PAM plugin ask for through
//     an AuthSwitchRequest.
// Pure: feed it the server's packets, send what it returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"

namespace tp::db {

// The capabilities to ask the server for: the ones the client negotiated with us, so that both
// halves of the session speak the same command-phase layout and the relay copies bytes unchanged;
// plus CLIENT_SSL; minus compression and flags about the client's own link. Errors when the server
// lacks TLS, or lacks a capability the client negotiated that changes the bytes of the command
// phase (e.g. CLIENT_DEPRECATE_EOF on a very old server).
Result<uint64_t> upstream_capabilities(uint64_t client_capabilities, uint64_t server_capabilities);

struct MysqlUpstreamLoginRequest {
  std::string db_service;  // for error messages
  std::string user;
  std::string database;  // "" for none
  std::optional<std::string> password;
  std::string missing_password;  // why there is none, should the server ask for one
  uint64_t client_capabilities = 0;
  uint8_t character_set = 0;
  uint32_t max_packet_size = 0;
  mysql::ConnectAttributes connect_attributes;
};

class MysqlUpstreamLogin {
 public:
  explicit MysqlUpstreamLogin(MysqlUpstreamLoginRequest request) : request_(std::move(request)) {}

  // The server's first packet: the greeting (or an ERR, e.g. "Host is blocked"). Returns the
  // SSLRequest packet to send before the TLS handshake.
  Result<std::string> on_greeting(const mysql::Packet& packet);
  // After the TLS handshake: the HandshakeResponse41 packet.
  Result<std::string> handshake_response();

  struct Step {
    std::string reply;   // a packet to send; may be empty
    bool done = false;   // the server said OK: the session is logged in
    mysql::OkPacket ok;  // when done
  };
  // Every server packet after the response. An ERR_Packet becomes an error whose message quotes
  // the server; server_error() then holds the packet itself.
  Result<Step> on_packet(const mysql::Packet& packet);

  const mysql::HandshakeV10& server_greeting() const { return greeting_; }
  uint64_t capabilities() const { return capabilities_; }
  const std::optional<mysql::ErrPacket>& server_error() const { return server_error_; }

 private:
  Result<std::string> auth_response(std::string_view plugin, std::string_view scramble, bool first);
  Result<std::string> need_password(std::string_view plugin) const;
  Error server_refused(std::string_view payload);
  Error fail(const std::string& what) const;

  MysqlUpstreamLoginRequest request_;
  mysql::HandshakeV10 greeting_;
  uint64_t capabilities_ = 0;
  std::string plugin_;    // the authentication plugin in play
  std::string scramble_;  // its salt
  std::optional<mysql::ErrPacket> server_error_;
  enum class State { kGreeting, kTls, kAuth, kDone } state_ = State::kGreeting;
};

}  // namespace tp::db
