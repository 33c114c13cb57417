// Connection phase messages (dev.mysql.com "Connection Phase Packets"): Protocol::HandshakeV10,
// Protocol::HandshakeResponse41, Protocol::SSLRequest, Protocol::AuthSwitchRequest,
// Protocol::AuthMoreData; MariaDB's extended capabilities ride in their filler bytes
// (mariadb.com "Connection": "Initial handshake packet", "Handshake response packet").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/wire.h"

namespace tp::mysql {

// Protocol::HandshakeV10, the server greeting:
//   int<1> protocol version (10), string<NUL> server version, int<4> connection id,
//   string[8] auth-plugin-data-part-1, int<1> filler, int<2> capabilities (low),
//   int<1> character set, int<2> status flags, int<2> capabilities (high),
//   int<1> auth-plugin-data length (or 0), string[10] reserved (MariaDB: string[6] + int<4>
//   extended capabilities when CLIENT_MYSQL is unset), string[max(13, len - 8)]
//   auth-plugin-data-part-2 (the 12 remaining scramble bytes + NUL), string<NUL> auth plugin name.
struct HandshakeV10 {
  std::string server_version;
  uint32_t connection_id = 0;
  std::string auth_plugin_data;  // the scramble (salt), 20 bytes, without the trailing NUL
  uint64_t capabilities = 0;     // upper 32 bits: MariaDB extended capabilities
  uint8_t character_set = kCharsetUtf8mb4GeneralCi;
  uint16_t status_flags = SERVER_STATUS_AUTOCOMMIT;
  std::string auth_plugin_name;  // with CLIENT_PLUGIN_AUTH
};
Result<HandshakeV10> parse_handshake_v10(std::string_view payload);
// Errors if auth_plugin_data is not 8..255 bytes or a string contains a NUL.
Result<std::string> encode_handshake_v10(const HandshakeV10& greeting);

// Protocol::HandshakeResponse41:
//   int<4> client flags, int<4> max packet size, int<1> character set, string[23] filler
//   (MariaDB: string[19] + int<4> extended capabilities when CLIENT_MYSQL is unset),
//   string<NUL> username, auth response (string<lenenc> with
//   CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, else int<1> length + bytes with
//   CLIENT_SECURE_CONNECTION, else string<NUL>), string<NUL> database with
//   CLIENT_CONNECT_WITH_DB, string<NUL> client plugin name with CLIENT_PLUGIN_AUTH,
//   int<lenenc> length + string<lenenc> key/value pairs with CLIENT_CONNECT_ATTRS,
//   int<1> zstd level with CLIENT_ZSTD_COMPRESSION_ALGORITHM.
// Like mysqld, the parser accepts a packet that ends before the plugin name, the attributes or the
// zstd level.
struct HandshakeResponse41 {
  uint64_t capabilities = 0;  // upper 32 bits: MariaDB extended capabilities
  uint32_t max_packet_size = 0;
  uint8_t character_set = kCharsetUtf8mb4GeneralCi;
  std::string username;
  std::string auth_response;
  std::string database;
  std::string auth_plugin_name;
  ConnectAttributes connect_attributes;
  std::optional<uint8_t> zstd_compression_level;
};
Result<HandshakeResponse41> parse_handshake_response41(std::string_view payload);
// Encodes the fields the capabilities call for. Errors on a NUL inside a NUL-terminated field, or an
// auth response longer than 255 bytes without CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA.
Result<std::string> encode_handshake_response41(const HandshakeResponse41& response);

// Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41, sent with CLIENT_SSL before
// the TLS handshake.
struct SslRequest {
  uint64_t capabilities = 0;
  uint32_t max_packet_size = 0;
  uint8_t character_set = kCharsetUtf8mb4GeneralCi;
};
inline constexpr size_t kSslRequestSize = 32;
// True for a client's first packet that asks for TLS: exactly 32 bytes with CLIENT_SSL. A full
// HandshakeResponse41 is always longer (it has at least the username's NUL).
bool is_ssl_request(std::string_view payload);
Result<SslRequest> parse_ssl_request(std::string_view payload);
std::string encode_ssl_request(const SslRequest& request);

// Protocol::AuthSwitchRequest: int<1> 0xFE, string<NUL> plugin name, string<EOF> plugin data.
// mysqld sends the 20-byte scramble followed by a NUL as the data; plugin_data is kept verbatim
// (see scramble_from_plugin_data in auth.h).
struct AuthSwitchRequest {
  std::string plugin_name;
  std::string plugin_data;
};
Result<AuthSwitchRequest> parse_auth_switch_request(std::string_view payload);
Result<std::string> encode_auth_switch_request(const AuthSwitchRequest& request);

// Protocol::AuthMoreData: int<1> 0x01, string<EOF> data (e.g. caching_sha2_password's 0x03 "fast
// auth success" or 0x04 "perform full authentication").
Result<std::string> parse_auth_more_data(std::string_view payload);
std::string encode_auth_more_data(std::string_view data);

}  // namespace tp::mysql
