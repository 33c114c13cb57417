#include "db/mysql/client_handshake.h"

#include "protocol/mysql/auth.h"
#include "protocol/mysql/packet.h"

namespace tp::db {

namespace {

using Framed = std::optional<std::pair<mysql::Packet, size_t>>;  // the packet and its size on the wire

// Frames one packet at the front of `input` (the payload points into it); nullopt when incomplete.
// Packets of the connection phase are small: one announced past `limit` is refused, not buffered
// (a limit below 16 MiB also rules out split packets).
Result<Framed> frame_one(std::string_view input, size_t limit, const char* what) {
  mysql::PacketFramer framer(limit);
  auto step = framer.next(input);
  if (!step.ok()) return step.error().wrap(std::string("MySQL ") + what);
  if (!step->packet) return Framed();
  return Framed(std::make_pair(*step->packet, step->consumed));
}

Result<MysqlClientHello> hello_from(const mysql::HandshakeV10& greeting, const mysql::Packet& packet) {
  if (mysql::is_ssl_request(packet.payload))
    return invalid_argument("the MySQL client asked for TLS, which this connection does not offer");
  auto response = mysql::parse_handshake_response41(packet.payload);
  if (!response.ok()) return response.error().wrap("reading the MySQL client's handshake response");
  MysqlClientHello hello;
  hello.capabilities = greeting.capabilities & response->capabilities;
  hello.response = std::move(*response);
  hello.next_sequence_id = static_cast<uint8_t>(packet.last_sequence_id + 1);
  hello.server_version = greeting.server_version;
  return hello;
}

}  // namespace

mysql::HandshakeV10 make_client_greeting(std::string_view server_version, uint32_t connection_id, Rng& rng) {
  mysql::HandshakeV10 g;
  g.server_version =
      server_version.empty() ? std::string(kDefaultMysqlServerVersion) : std::string(server_version);
  g.connection_id = connection_id;
  g.auth_plugin_data = mysql::make_scramble(rng);
  g.capabilities = kAgentGreetingCapabilities;
  g.character_set = mysql::kCharsetUtf8mb4GeneralCi;
  g.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  g.auth_plugin_name = std::string(mysql::kNativePasswordPlugin);
  return g;
}

Result<std::optional<MysqlClientHello>> take_client_hello(const mysql::HandshakeV10& greeting,
                                                          std::string& buffer) {
  TP_TRY(auto framed, frame_one(buffer, kMaxHandshakeResponse, "handshake response"));
  if (!framed) return std::optional<MysqlClientHello>();
  auto& [packet, consumed] = *framed;
  if (packet.sequence_id != 1)
    return invalid_argument("the MySQL client's handshake response has sequence id " +
                            std::to_string(packet.sequence_id) + ", expected 1");
  auto hello = hello_from(greeting, packet);
  if (!hello.ok()) return hello.error();
  buffer.erase(0, consumed);
  return std::optional<MysqlClientHello>(std::move(*hello));
}

Result<MysqlClientHello> parse_native_handoff(std::string_view data) {
  auto fail = [](const std::string& why) {
    return invalid_argument("the proxy's MySQL handoff (dial initial data) is malformed: " + why);
  };
  auto greeting_frame = frame_one(data, kMaxHandshakeResponse, "handoff greeting");
  if (!greeting_frame.ok()) return fail(greeting_frame.error().message);
  if (!*greeting_frame) return fail("it ends inside the greeting");
  auto [greeting_packet, greeting_size] = **greeting_frame;
  auto greeting = mysql::parse_handshake_v10(greeting_packet.payload);
  if (!greeting.ok()) return fail(greeting.error().message);
  data.remove_prefix(greeting_size);

  auto response_frame = frame_one(data, kMaxHandshakeResponse, "handoff handshake response");
  if (!response_frame.ok()) return fail(response_frame.error().message);
  if (!*response_frame) return fail("it ends inside the client's handshake response");
  auto [response_packet, response_size] = **response_frame;
  if (response_size != data.size()) return fail("bytes follow the client's handshake response");
  auto hello = hello_from(*greeting, response_packet);
  if (!hello.ok()) return hello.error();
  hello->native_handoff = true;
  return hello;
}

std::string encode_client_auth_ok(const MysqlClientHello& hello, uint16_t status_flags) {
  mysql::OkPacket ok;
  ok.status_flags = status_flags;
  return mysql::encode_packet(mysql::encode_ok_packet(ok, hello.capabilities), hello.next_sequence_id);
}

std::string encode_client_error(const MysqlClientHello& hello, const mysql::ErrPacket& err) {
  return mysql::encode_packet(mysql::encode_err_packet(err, hello.capabilities), hello.next_sequence_id);
}

mysql::ErrPacket err_packet_for(const Error& error) {
  mysql::ErrPacket err;
  err.message = error.message;
  switch (error.code) {
    case ErrorCode::kAccessDenied:
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kExpired:
      err.error_code = 1045;  // ER_ACCESS_DENIED_ERROR
      err.sql_state = "28000";
      break;
    case ErrorCode::kUnavailable:
      // Not 2003 (CR_CONN_HOST_ERROR): codes 2000-2999 are the client library's own, and
      // libmariadb reports an ERR_Packet carrying one as "malformed packet" instead of our words.
      err.error_code = 1105;    // ER_UNKNOWN_ERROR
      err.sql_state = "08S01";  // communication link failure
      break;
    case ErrorCode::kInvalidArgument:
      err.error_code = 1043;  // ER_HANDSHAKE_ERROR: "Bad handshake"
      err.sql_state = "08S01";
      break;
    default:
      err.error_code = 1105;  // ER_UNKNOWN_ERROR
      err.sql_state = "HY000";
      break;
  }
  return err;
}

}  // namespace tp::db
