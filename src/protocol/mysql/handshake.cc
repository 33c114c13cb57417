#include "protocol/mysql/handshake.h"

#include <algorithm>

#include "protocol/mysql/wire.h"

namespace tp::mysql {
namespace {

// The 10 reserved bytes of HandshakeV10 and the 23 filler bytes of HandshakeResponse41 both end
// with MariaDB's 4 bytes of extended capabilities when CLIENT_MYSQL is unset.
uint64_t mariadb_extended(uint64_t low, uint64_t filler_tail) {
  return (low & CLIENT_MYSQL) ? 0 : (filler_tail << 32);
}

// The 32-byte prefix shared by HandshakeResponse41 and SSLRequest.
Result<SslRequest> read_response_prefix(PayloadReader& r) {
  SslRequest p;
  TP_TRY(uint32_t low, r.u32("capability flags"));
  TP_TRY(p.max_packet_size, r.u32("max packet size"));
  TP_TRY(p.character_set, r.u8("character set"));
  TP_CHECK(r.bytes(19, "filler"));
  TP_TRY(uint32_t extended, r.u32("filler / MariaDB extended capabilities"));
  p.capabilities = low | mariadb_extended(low, extended);
  if (!(p.capabilities & CLIENT_PROTOCOL_41)) {
    return invalid_argument(
        "MySQL client uses the pre-4.1 handshake (HandshakeResponse320, no CLIENT_PROTOCOL_41), which is not "
        "supported; use a MySQL 4.1 or newer client");
  }
  return p;
}

void put_response_prefix(std::string& out, const SslRequest& p) {
  put_u32(out, static_cast<uint32_t>(p.capabilities));
  put_u32(out, p.max_packet_size);
  put_u8(out, p.character_set);
  out.append(19, '\0');
  put_u32(out, (p.capabilities & CLIENT_MYSQL) ? 0 : static_cast<uint32_t>(p.capabilities >> 32));
}

}  // namespace

Result<HandshakeV10> parse_handshake_v10(std::string_view payload) {
  PayloadReader r(payload, "HandshakeV10");
  HandshakeV10 g;
  TP_TRY(uint8_t version, r.u8("protocol version"));
  if (version != kProtocolVersion10) {
    return r.malformed("protocol version",
                       "got " + std::to_string(version) +
                           ", only protocol version 10 is supported (is this a MySQL server?)");
  }
  TP_TRY(std::string_view server_version, r.nul_string("server version"));
  g.server_version = server_version;
  TP_TRY(g.connection_id, r.u32("connection id"));
  TP_TRY(std::string_view part1, r.bytes(8, "auth plugin data part 1"));
  TP_CHECK(r.u8("filler"));
  TP_TRY(uint16_t caps_low, r.u16("capability flags (lower)"));
  TP_TRY(g.character_set, r.u8("character set"));
  TP_TRY(g.status_flags, r.u16("status flags"));
  TP_TRY(uint16_t caps_high, r.u16("capability flags (upper)"));
  const uint64_t low = caps_low | (static_cast<uint64_t>(caps_high) << 16);
  TP_TRY(uint8_t data_length, r.u8("auth plugin data length"));
  TP_CHECK(r.bytes(6, "reserved"));
  TP_TRY(uint32_t extended, r.u32("reserved / MariaDB extended capabilities"));
  g.capabilities = low | mariadb_extended(low, extended);
  g.auth_plugin_data = part1;
  if (g.capabilities & CLIENT_SECURE_CONNECTION) {
    const size_t part2_length = std::max<int>(13, static_cast<int>(data_length) - 8);
    TP_TRY(std::string_view part2, r.bytes(part2_length, "auth plugin data part 2"));
    // Part 2 ends with a NUL that is not part of the scramble.
    if (!part2.empty() && part2.back() == '\0') part2.remove_suffix(1);
    g.auth_plugin_data.append(part2);
  }
  if (g.capabilities & CLIENT_PLUGIN_AUTH) {
    // Some servers (MySQL bug #59453) omit the final NUL: take the rest of the packet then.
    std::string_view rest = r.rest();
    g.auth_plugin_name = rest.substr(0, rest.find('\0'));
  }
  return g;
}

Result<std::string> encode_handshake_v10(const HandshakeV10& g) {
  if (g.auth_plugin_data.size() < 8 || g.auth_plugin_data.size() > 254) {
    return invalid_argument("MySQL HandshakeV10: auth plugin data must be 8 to 254 bytes, got " +
                            std::to_string(g.auth_plugin_data.size()));
  }
  std::string out;
  put_u8(out, kProtocolVersion10);
  TP_CHECK(put_nul_string(out, g.server_version, "server version"));
  put_u32(out, g.connection_id);
  out.append(g.auth_plugin_data, 0, 8);
  put_u8(out, 0);
  put_u16(out, static_cast<uint16_t>(g.capabilities & 0xFFFF));
  put_u8(out, g.character_set);
  put_u16(out, g.status_flags);
  put_u16(out, static_cast<uint16_t>((g.capabilities >> 16) & 0xFFFF));
  // The length counts the NUL that ends part 2.
  put_u8(out,
         (g.capabilities & CLIENT_PLUGIN_AUTH) ? static_cast<uint8_t>(g.auth_plugin_data.size() + 1) : 0);
  out.append(6, '\0');
  put_u32(out, (g.capabilities & CLIENT_MYSQL) ? 0 : static_cast<uint32_t>(g.capabilities >> 32));
  if (g.capabilities & CLIENT_SECURE_CONNECTION) {
    std::string part2 = g.auth_plugin_data.substr(8);
    part2.push_back('\0');
    if (part2.size() < 13) part2.resize(13, '\0');
    out.append(part2);
  }
  if (g.capabilities & CLIENT_PLUGIN_AUTH)
    TP_CHECK(put_nul_string(out, g.auth_plugin_name, "auth plugin name"));
  return out;
}

Result<HandshakeResponse41> parse_handshake_response41(std::string_view payload) {
  PayloadReader r(payload, "HandshakeResponse41");
  HandshakeResponse41 h;
  TP_TRY(SslRequest prefix, read_response_prefix(r));
  h.capabilities = prefix.capabilities;
  h.max_packet_size = prefix.max_packet_size;
  h.character_set = prefix.character_set;
  TP_TRY(std::string_view username, r.nul_string("username"));
  h.username = username;
  if (h.capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    TP_TRY(std::string_view auth, r.lenenc_string("auth response"));
    h.auth_response = auth;
  } else if (h.capabilities & CLIENT_SECURE_CONNECTION) {
    TP_TRY(uint8_t n, r.u8("auth response length"));
    TP_TRY(std::string_view auth, r.bytes(n, "auth response"));
    h.auth_response = auth;
  } else {
    TP_TRY(std::string_view auth, r.nul_string("auth response"));
    h.auth_response = auth;
  }
  if (h.capabilities & CLIENT_CONNECT_WITH_DB) {
    TP_TRY(std::string_view database, r.nul_string("database"));
    h.database = database;
  }
  if ((h.capabilities & CLIENT_PLUGIN_AUTH) && !r.at_end()) {
    TP_TRY(std::string_view plugin, r.nul_string("auth plugin name"));
    h.auth_plugin_name = plugin;
  }
  if ((h.capabilities & CLIENT_CONNECT_ATTRS) && !r.at_end()) {
    TP_TRY(h.connect_attributes, read_connect_attributes(r));
  }
  if ((h.capabilities & CLIENT_ZSTD_COMPRESSION_ALGORITHM) && !r.at_end()) {
    TP_TRY(uint8_t level, r.u8("zstd compression level"));
    h.zstd_compression_level = level;
  }
  return h;
}

Result<std::string> encode_handshake_response41(const HandshakeResponse41& h) {
  std::string out;
  put_response_prefix(out,
                      SslRequest{h.capabilities | CLIENT_PROTOCOL_41, h.max_packet_size, h.character_set});
  TP_CHECK(put_nul_string(out, h.username, "username"));
  if (h.capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    put_lenenc_string(out, h.auth_response);
  } else if (h.capabilities & CLIENT_SECURE_CONNECTION) {
    if (h.auth_response.size() > 255) {
      return invalid_argument(
          "MySQL HandshakeResponse41: auth response of " + std::to_string(h.auth_response.size()) +
          " bytes needs CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (at most 255 bytes with a 1-byte length)");
    }
    put_u8(out, static_cast<uint8_t>(h.auth_response.size()));
    out.append(h.auth_response);
  } else {
    TP_CHECK(put_nul_string(out, h.auth_response, "auth response"));
  }
  if (h.capabilities & CLIENT_CONNECT_WITH_DB) TP_CHECK(put_nul_string(out, h.database, "database"));
  if (h.capabilities & CLIENT_PLUGIN_AUTH)
    TP_CHECK(put_nul_string(out, h.auth_plugin_name, "auth plugin name"));
  if (h.capabilities & CLIENT_CONNECT_ATTRS) put_connect_attributes(out, h.connect_attributes);
  if ((h.capabilities & CLIENT_ZSTD_COMPRESSION_ALGORITHM) && h.zstd_compression_level) {
    put_u8(out, *h.zstd_compression_level);
  }
  return out;
}

bool is_ssl_request(std::string_view payload) {
  if (payload.size() != kSslRequestSize) return false;
  return static_cast<uint8_t>(payload[1]) & (CLIENT_SSL >> 8);
}

Result<SslRequest> parse_ssl_request(std::string_view payload) {
  PayloadReader r(payload, "SSLRequest");
  if (payload.size() != kSslRequestSize) {
    return r.malformed("length", "an SSLRequest is exactly 32 bytes, got " + std::to_string(payload.size()));
  }
  TP_TRY(SslRequest request, read_response_prefix(r));
  if (!(request.capabilities & CLIENT_SSL)) return r.malformed("capability flags", "CLIENT_SSL is not set");
  return request;
}

std::string encode_ssl_request(const SslRequest& request) {
  std::string out;
  put_response_prefix(out, SslRequest{request.capabilities | CLIENT_SSL | CLIENT_PROTOCOL_41,
                                      request.max_packet_size, request.character_set});
  return out;
}

Result<AuthSwitchRequest> parse_auth_switch_request(std::string_view payload) {
  PayloadReader r(payload, "AuthSwitchRequest");
  TP_TRY(uint8_t header, r.u8("header"));
  if (header != kEofHeader) return r.malformed("header", "an AuthSwitchRequest starts with 0xfe");
  AuthSwitchRequest s;
  TP_TRY(std::string_view plugin, r.nul_string("plugin name"));
  s.plugin_name = plugin;
  s.plugin_data = r.rest();
  return s;
}

Result<std::string> encode_auth_switch_request(const AuthSwitchRequest& s) {
  std::string out;
  put_u8(out, kEofHeader);
  TP_CHECK(put_nul_string(out, s.plugin_name, "plugin name"));
  out.append(s.plugin_data);
  return out;
}

Result<std::string> parse_auth_more_data(std::string_view payload) {
  PayloadReader r(payload, "AuthMoreData");
  TP_TRY(uint8_t header, r.u8("header"));
  if (header != kAuthMoreDataHeader) return r.malformed("header", "an AuthMoreData packet starts with 0x01");
  return std::string(r.rest());
}

std::string encode_auth_more_data(std::string_view data) {
  std::string out;
  put_u8(out, kAuthMoreDataHeader);
  out.append(data);
  return out;
}

}  // namespace tp::mysql
