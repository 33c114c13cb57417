#include "protocol/postgres/startup.h"

#include "protocol/postgres/internal/wire.h"

namespace tp::pg {

using internal::load_be32;
using internal::malformed;
using internal::MessageWriter;
using internal::WireReader;

namespace {

constexpr size_t kLengthWord = 4;
// Length word + request code: the smallest packet (SSLRequest, GSSENCRequest).
constexpr size_t kMinStartupPacket = 8;
// CancelRequest in protocol 3.0: length, code, process ID, secret key.
constexpr size_t kCancelRequestLength = 16;
constexpr uint16_t kReservedMajor = 1234;

std::string version_text(uint32_t v) {
  return std::to_string(v >> 16) + "." + std::to_string(v & 0xffff);
}

Result<StartupPacket> parse_startup_message(uint32_t version, WireReader& r) {
  if ((version >> 16) != 3) {
    return invalid_argument("unsupported PostgreSQL frontend protocol " + version_text(version) +
                            ": only protocol 3.0 is supported (any client since PostgreSQL 7.4 speaks it); "
                            "upgrade the client or check that it is speaking PostgreSQL at all");
  }
  StartupMessage msg;
  msg.protocol_version = version;
  // "Message Formats" → StartupMessage: pairs of String name, String value, then a single zero byte.
  while (true) {
    std::string_view name;
    if (!r.read_cstring(name))
      return malformed("StartupMessage", "the parameter list is missing its terminating NUL");
    if (name.empty()) break;
    std::string_view value;
    if (!r.read_cstring(value)) {
      return malformed("StartupMessage",
                       "parameter \"" + std::string(name) + "\" has no NUL-terminated value");
    }
    auto [it, inserted] = msg.parameters.emplace(std::string(name), std::string(value));
    if (!inserted) {
      // The server would use one of the two; refusing keeps every hop agreeing on which.
      return malformed("StartupMessage", "parameter \"" + it->first + "\" appears twice");
    }
  }
  TP_CHECK(internal::expect_end(r, "StartupMessage"));
  if (msg.user().empty()) {
    return invalid_argument(
        "PostgreSQL StartupMessage names no \"user\": the client must send a database user name "
        "(e.g. psql -U NAME or user=NAME in the connection string)");
  }
  return StartupPacket{std::move(msg)};
}

}  // namespace

std::string StartupMessage::parameter(const std::string& name) const {
  auto it = parameters.find(name);
  return it == parameters.end() ? std::string() : it->second;
}

std::string StartupMessage::database() const {
  auto db = parameter("database");
  return db.empty() ? user() : db;
}

Result<size_t> frame_startup_packet(std::string_view buffer) {
  if (buffer.size() < kLengthWord) return size_t{0};
  size_t len = load_be32(buffer.data());
  if (len < kMinStartupPacket) {
    return invalid_argument("invalid PostgreSQL startup packet length " + std::to_string(len) +
                            " (minimum 8): the client is not speaking the PostgreSQL protocol");
  }
  if (len - kLengthWord > kMaxStartupPacketLength) {
    return invalid_argument("PostgreSQL startup packet of " + std::to_string(len) +
                            " bytes exceeds the 10000-byte limit (MAX_STARTUP_PACKET_LENGTH); "
                            "send fewer or shorter connection parameters");
  }
  return buffer.size() < len ? size_t{0} : len;
}

Result<StartupPacket> parse_startup_packet(std::string_view packet) {
  if (packet.size() < kMinStartupPacket) {
    return malformed("startup", "truncated to " + std::to_string(packet.size()) + " bytes (minimum 8)");
  }
  WireReader r(packet);
  uint32_t len = 0;
  uint32_t code = 0;
  r.read_u32(len);
  r.read_u32(code);
  if (len != packet.size()) {
    return malformed("startup", "length word says " + std::to_string(len) + " bytes but the packet has " +
                                    std::to_string(packet.size()));
  }
  if (len - kLengthWord > kMaxStartupPacketLength) {
    return invalid_argument("PostgreSQL startup packet of " + std::to_string(len) +
                            " bytes exceeds the 10000-byte limit (MAX_STARTUP_PACKET_LENGTH)");
  }
  switch (code) {
    case kSslRequestCode:
      if (len != kMinStartupPacket) return malformed("SSLRequest", "length must be 8");
      return StartupPacket{SslRequest{}};
    case kGssEncRequestCode:
      if (len != kMinStartupPacket) return malformed("GSSENCRequest", "length must be 8");
      return StartupPacket{GssEncRequest{}};
    case kCancelRequestCode: {
      if (len != kCancelRequestLength) {
        return invalid_argument(
            "unsupported PostgreSQL CancelRequest of " + std::to_string(len) +
            " bytes: only the protocol 3.0 form (16 bytes, 4-byte secret key) is supported");
      }
      CancelRequest c;
      r.read_i32(c.process_id);
      r.read_i32(c.secret_key);
      return StartupPacket{c};
    }
    default:
      if ((code >> 16) == kReservedMajor) {
        return invalid_argument("unknown PostgreSQL startup request code " + version_text(code) +
                                ": expected StartupMessage, SSLRequest, GSSENCRequest or CancelRequest");
      }
      return parse_startup_message(code, r);
  }
}

std::string encode_ssl_request() {
  return MessageWriter(0).u32(kSslRequestCode).finish();
}

std::string encode_gssenc_request() {
  return MessageWriter(0).u32(kGssEncRequestCode).finish();
}

std::string encode_cancel_request(const CancelRequest& request) {
  return MessageWriter(0).u32(kCancelRequestCode).i32(request.process_id).i32(request.secret_key).finish();
}

Result<std::string> encode_startup_message(const StartupMessage& message) {
  if (message.user().empty()) {
    return invalid_argument("cannot encode a PostgreSQL StartupMessage without a \"user\" parameter");
  }
  for (const auto& [name, value] : message.parameters) {
    if (name.empty())
      return invalid_argument("cannot encode a PostgreSQL StartupMessage parameter with an empty name");
    if (name.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return invalid_argument("PostgreSQL StartupMessage parameter \"" + name.substr(0, name.find('\0')) +
                              "\" contains a NUL byte, which the protocol cannot carry");
    }
  }
  MessageWriter w(0);
  w.u32(message.protocol_version);
  // "user" first, as libpq sends it; the order has no meaning to the server.
  w.cstring("user").cstring(message.parameters.at("user"));
  for (const auto& [name, value] : message.parameters) {
    if (name != "user") w.cstring(name).cstring(value);
  }
  w.u8(0);
  std::string out = w.finish();
  if (out.size() - kLengthWord > kMaxStartupPacketLength) {
    return invalid_argument(
        "PostgreSQL StartupMessage would be " + std::to_string(out.size()) +
        " bytes, over the 10000-byte limit (MAX_STARTUP_PACKET_LENGTH); shorten the parameters");
  }
  return out;
}

std::string encode_ssl_response(bool accepted) {
  return std::string(1, accepted ? kSslAccepted : kEncryptionRefused);
}

}  // namespace tp::pg
