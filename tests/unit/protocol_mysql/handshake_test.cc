#include "protocol/mysql/handshake.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace tp::mysql {
namespace {

using testing::bytes;
using testing::expect_prefixes_fail;
using testing::le16;
using testing::le32;
using testing::nul;

const std::string kSalt = "abcdefghijklmnopqrst";  // 20 bytes

// Capabilities a MySQL 8 server announces (low 32 bits only).
constexpr uint64_t kServerCaps =
    CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |
    CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
    CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS |
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_DEPRECATE_EOF | CLIENT_QUERY_ATTRIBUTES;

std::string mysql_greeting() {
  return bytes({0x0a}) + nul("8.0.36") + le32(0x01020304) + kSalt.substr(0, 8) + bytes({0x00}) +
         le16(kServerCaps & 0xFFFF) + bytes({0xff}) + le16(SERVER_STATUS_AUTOCOMMIT) +
         le16(kServerCaps >> 16) + bytes({21}) + std::string(10, '\0') + kSalt.substr(8) + bytes({0x00}) +
         nul("caching_sha2_password");
}

TEST(MysqlHandshakeV10, DecodesMysqlGreeting) {
  const std::string p = mysql_greeting();
  auto g = parse_handshake_v10(p);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->server_version, "8.0.36");
  EXPECT_EQ(g->connection_id, 0x01020304u);
  EXPECT_EQ(g->auth_plugin_data, kSalt);
  EXPECT_EQ(g->capabilities, kServerCaps);
  EXPECT_EQ(g->character_set, 0xff);
  EXPECT_EQ(g->status_flags, SERVER_STATUS_AUTOCOMMIT);
  EXPECT_EQ(g->auth_plugin_name, "caching_sha2_password");
  auto encoded = encode_handshake_v10(*g);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, p);
  // Everything up to the end of auth-plugin-data-part-2 is required.
  const size_t mandatory = p.size() - std::string("caching_sha2_password").size() - 1;
  expect_prefixes_fail(p, mandatory, [](std::string_view s) { return parse_handshake_v10(s); });
}

TEST(MysqlHandshakeV10, PluginNameWithoutNul) {
  std::string p = mysql_greeting();
  p.pop_back();  // MySQL bug #59453
  auto g = parse_handshake_v10(p);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->auth_plugin_name, "caching_sha2_password");
}

TEST(MysqlHandshakeV10, MariaDbExtendedCapabilities) {
  HandshakeV10 g;
  g.server_version = "5.5.5-10.11.6-MariaDB";
  g.connection_id = 9;
  g.auth_plugin_data = kSalt;
  g.capabilities = (kServerCaps & ~CLIENT_MYSQL) | MARIADB_CLIENT_PROGRESS |
                   MARIADB_CLIENT_STMT_BULK_OPERATIONS | MARIADB_CLIENT_CACHE_METADATA;
  g.auth_plugin_name = "mysql_native_password";
  auto p = encode_handshake_v10(g);
  ASSERT_TRUE(p.ok());
  // The extended capabilities sit in the last 4 of the 10 reserved bytes.
  const size_t reserved = 1 + g.server_version.size() + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1;
  EXPECT_EQ(p->substr(reserved, 10), std::string(6, '\0') + le32(0x15));
  auto back = parse_handshake_v10(*p);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->capabilities, g.capabilities);

  // With CLIENT_MYSQL set the same bytes are filler and ignored.
  std::string mysql = *p;
  mysql[1 + g.server_version.size() + 1 + 4 + 8 + 1] |= 0x01;
  auto as_mysql = parse_handshake_v10(mysql);
  ASSERT_TRUE(as_mysql.ok());
  EXPECT_EQ(as_mysql->capabilities & kMariaDbCapabilitiesMask, 0u);
}

TEST(MysqlHandshakeV10, RejectsOtherProtocolVersions) {
  std::string p = mysql_greeting();
  p[0] = 9;
  auto g = parse_handshake_v10(p);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("protocol version"), std::string::npos);
}

TEST(MysqlHandshakeV10, EncoderValidates) {
  HandshakeV10 g;
  g.auth_plugin_data = "short";
  EXPECT_FALSE(encode_handshake_v10(g).ok());
  g.auth_plugin_data = kSalt;
  g.server_version = std::string("8.0\0x", 5);
  EXPECT_FALSE(encode_handshake_v10(g).ok());
}

// A mysql 8 client's response: lenenc auth data, database, plugin and attributes.
const uint64_t kClientCaps = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION |
                             CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
                             CLIENT_CONNECT_WITH_DB | CLIENT_CONNECT_ATTRS | CLIENT_TRANSACTIONS |
                             CLIENT_DEPRECATE_EOF;

std::string client_response() {
  const std::string auth(32, '\x5a');
  const std::string attrs = bytes({0x04}) + "_pid" + bytes({0x02}) + "42";
  return le32(kClientCaps) + le32(16777216) + bytes({0x2d}) + std::string(23, '\0') + nul("alice") +
         bytes({32}) + auth + nul("sales") + nul("caching_sha2_password") + bytes({int(attrs.size())}) +
         attrs;
}

TEST(MysqlHandshakeResponse41, DecodesAndEncodes) {
  const std::string p = client_response();
  auto h = parse_handshake_response41(p);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->capabilities, kClientCaps);
  EXPECT_EQ(h->max_packet_size, 16777216u);
  EXPECT_EQ(h->character_set, 0x2d);
  EXPECT_EQ(h->username, "alice");
  EXPECT_EQ(h->auth_response, std::string(32, '\x5a'));
  EXPECT_EQ(h->database, "sales");
  EXPECT_EQ(h->auth_plugin_name, "caching_sha2_password");
  ASSERT_EQ(h->connect_attributes.size(), 1u);
  EXPECT_EQ(h->connect_attributes[0], (std::pair<std::string, std::string>("_pid", "42")));
  auto encoded = encode_handshake_response41(*h);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, p);
  // Through the database name every byte is required; the plugin name and attributes may be absent.
  const size_t mandatory = 32 + 6 + 33 + 6;
  expect_prefixes_fail(p, mandatory, [](std::string_view s) { return parse_handshake_response41(s); });
}

TEST(MysqlHandshakeResponse41, AuthResponseLayoutsFollowFlags) {
  HandshakeResponse41 h;
  h.username = "u";
  h.auth_response = "pw";
  h.capabilities = CLIENT_PROTOCOL_41 | CLIENT_LONG_PASSWORD;  // neither secure connection nor lenenc
  auto nul_form = encode_handshake_response41(h);
  ASSERT_TRUE(nul_form.ok());
  EXPECT_EQ(nul_form->substr(32), nul("u") + nul("pw"));
  EXPECT_EQ(parse_handshake_response41(*nul_form)->auth_response, "pw");

  h.capabilities |= CLIENT_SECURE_CONNECTION;
  auto one_byte = encode_handshake_response41(h);
  ASSERT_TRUE(one_byte.ok());
  EXPECT_EQ(one_byte->substr(32), nul("u") + bytes({2}) + "pw");
  h.auth_response = std::string(300, 'x');
  EXPECT_FALSE(encode_handshake_response41(h).ok());  // does not fit a 1-byte length

  h.capabilities |= CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
  auto lenenc = encode_handshake_response41(h);
  ASSERT_TRUE(lenenc.ok());
  EXPECT_EQ(lenenc->substr(32, 5), nul("u") + bytes({0xfc, 0x2c, 0x01}));
  EXPECT_EQ(parse_handshake_response41(*lenenc)->auth_response, h.auth_response);

  h.username = std::string("admin\0x", 7);
  EXPECT_FALSE(encode_handshake_response41(h).ok());
}

TEST(MysqlHandshakeResponse41, MariaDbExtendedCapabilitiesAndZstd) {
  HandshakeResponse41 h;
  h.capabilities = (kClientCaps & ~CLIENT_MYSQL) | MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_CACHE_METADATA |
                   CLIENT_ZSTD_COMPRESSION_ALGORITHM;
  h.username = "bob";
  h.zstd_compression_level = 3;
  h.connect_attributes = {{"_client_name", "libmariadb"}};
  auto p = encode_handshake_response41(h);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->substr(28, 4), le32(0x11));
  auto back = parse_handshake_response41(*p);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->capabilities, h.capabilities);
  EXPECT_EQ(back->zstd_compression_level, 3);
  EXPECT_EQ(back->connect_attributes, h.connect_attributes);
}

TEST(MysqlHandshakeResponse41, RejectsPre41Clients) {
  std::string p = client_response();
  p[1] = 0;  // clears CLIENT_PROTOCOL_41 (bit 9) and CLIENT_SSL etc.
  auto h = parse_handshake_response41(p);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("4.1"), std::string::npos);
}

TEST(MysqlSslRequest, DetectsAndRoundTrips) {
  SslRequest r{kClientCaps | CLIENT_SSL, 1 << 24, 0x21};
  const std::string p = encode_ssl_request(r);
  ASSERT_EQ(p.size(), kSslRequestSize);
  EXPECT_EQ(
      p, client_response().substr(0, 32).replace(0, 4, le32(kClientCaps | CLIENT_SSL)).replace(8, 1, "\x21"));
  EXPECT_TRUE(is_ssl_request(p));
  auto back = parse_ssl_request(p);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->capabilities, r.capabilities);
  EXPECT_EQ(back->max_packet_size, 1u << 24);
  EXPECT_EQ(back->character_set, 0x21);

  EXPECT_FALSE(is_ssl_request(client_response()));  // a full response is longer
  std::string no_ssl = encode_ssl_request(r);
  no_ssl[1] = static_cast<char>(no_ssl[1] & ~0x08);
  EXPECT_FALSE(is_ssl_request(no_ssl));
  EXPECT_FALSE(parse_ssl_request(no_ssl).ok());
  expect_prefixes_fail(p, p.size(), [](std::string_view s) { return parse_ssl_request(s); });
}

TEST(MysqlAuthSwitchRequest, DecodesAndEncodes) {
  const std::string p = bytes({0xfe}) + nul("mysql_native_password") + kSalt + bytes({0x00});
  auto s = parse_auth_switch_request(p);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->plugin_name, "mysql_native_password");
  EXPECT_EQ(s->plugin_data, kSalt + bytes({0x00}));
  EXPECT_EQ(*encode_auth_switch_request(*s), p);
  expect_prefixes_fail(p, 23, [](std::string_view v) { return parse_auth_switch_request(v); });
  EXPECT_FALSE(parse_auth_switch_request(bytes({0x01}) + nul("x")).ok());
  EXPECT_FALSE(encode_auth_switch_request({std::string("a\0b", 3), ""}).ok());
}

TEST(MysqlAuthMoreData, DecodesAndEncodes) {
  EXPECT_EQ(encode_auth_more_data(bytes({0x04})), bytes({0x01, 0x04}));
  EXPECT_EQ(*parse_auth_more_data(bytes({0x01, 0x03})), bytes({0x03}));
  EXPECT_FALSE(parse_auth_more_data("").ok());
  EXPECT_FALSE(parse_auth_more_data(bytes({0x02, 0x03})).ok());
}

}  // namespace
}  // namespace tp::mysql
