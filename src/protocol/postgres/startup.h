// The startup phase of the PostgreSQL protocol: packets that have no type byte, only an Int32
// length followed by an Int32 code. See the PostgreSQL documentation, "Frontend/Backend Protocol" →
// "Message Formats" (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) and "Message Flow" →
// "Start-up", "SSL Session Encryption", "Canceling Requests in Progress".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"

namespace tp::pg {

// Protocol version 3.0: major 3 in the high 16 bits, minor 0 in the low 16 bits.
inline constexpr uint32_t kProtocolVersion3 = 3u << 16;  // 196608
// The codes PostgreSQL reserves in place of a protocol version (pqcomm.h).
inline constexpr uint32_t kCancelRequestCode = 80877102;  // 1234 << 16 | 5678
inline constexpr uint32_t kSslRequestCode = 80877103;     // 1234 << 16 | 5679
inline constexpr uint32_t kGssEncRequestCode = 80877104;  // 1234 << 16 | 5680
// PostgreSQL's MAX_STARTUP_PACKET_LENGTH (pqcomm.h): the server rejects a startup packet whose length,
// not counting the length word itself, exceeds this.
inline constexpr size_t kMaxStartupPacketLength = 10000;

struct SslRequest {};
struct GssEncRequest {};

// Sent on a new connection to cancel the query running in another session. Protocol 3.0 carries a
// 4-byte secret key; the longer keys of protocol 3.2 are rejected as unsupported.
struct CancelRequest {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};

struct StartupMessage {
  uint32_t protocol_version = kProtocolVersion3;
  // "user" (required), "database" (defaults to the user name), "application_name", "options"
  // (command-line switches for the backend), "replication", "_pq_.*" protocol options, and any
  // run-time parameter (e.g. "client_encoding").
  std::map<std::string, std::string> parameters;

  uint16_t protocol_major() const { return static_cast<uint16_t>(protocol_version >> 16); }
  uint16_t protocol_minor() const { return static_cast<uint16_t>(protocol_version & 0xffff); }
  // The value of a parameter, or "" when absent.
  std::string parameter(const std::string& name) const;
  std::string user() const { return parameter("user"); }
  // PostgreSQL connects to the database named like the user when "database" is absent or empty.
  std::string database() const;
};

using StartupPacket = std::variant<SslRequest, GssEncRequest, CancelRequest, StartupMessage>;

// Length in bytes of the first complete startup packet at the front of `buffer`, or 0 when more bytes
// are needed. Fails when the length word is impossible (shorter than 8 bytes or longer than
// kMaxStartupPacketLength + 4), so a caller never waits for or buffers an oversized packet.
Result<size_t> frame_startup_packet(std::string_view buffer);

// Parses exactly one complete startup packet (its length word included), as framed by
// frame_startup_packet. A StartupMessage must be protocol 3.x, name a "user", and end with the
// terminating NUL. A 3.x minor version above 0 is accepted; the server answers it with
// encode_negotiate_protocol_version (backend_messages.h).
Result<StartupPacket> parse_startup_packet(std::string_view packet);

std::string encode_ssl_request();
std::string encode_gssenc_request();
std::string encode_cancel_request(const CancelRequest& request);
// Fails when "user" is missing, a name is empty, a name or value contains NUL (which would inject
// parameters), or the packet would exceed kMaxStartupPacketLength.
Result<std::string> encode_startup_message(const StartupMessage& message);

// The server's one-byte answers to SSLRequest / GSSENCRequest ("Message Flow" → "SSL Session
// Encryption"): 'S' (or 'G') to proceed with the handshake, 'N' to continue unencrypted.
inline constexpr char kSslAccepted = 'S';
inline constexpr char kGssEncAccepted = 'G';
inline constexpr char kEncryptionRefused = 'N';
std::string encode_ssl_response(bool accepted);

}  // namespace tp::pg
