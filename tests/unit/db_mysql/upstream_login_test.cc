#include "db/mysql/upstream_login.h"

#include <gtest/gtest.h>

#include "db/mysql/client_handshake.h"
#include "protocol/mysql/auth.h"
#include "unit/protocol_mysql/fixtures.h"

namespace tp::db {
namespace {

namespace m = tp::mysql;
using m::testing::frame;

constexpr uint64_t kMysql8Capabilities = 0xDFFFFFFF;  // every low flag but CLIENT_SSL_VERIFY_SERVER_CERT
// A MariaDB 10.11 server: CLIENT_MYSQL clear, extended capabilities in the upper half.
constexpr uint64_t kMariaDbCapabilities =
    ((kAgentGreetingCapabilities | m::CLIENT_SSL | m::CLIENT_COMPRESS) & ~m::CLIENT_MYSQL & 0xFFFFFFFF) |
    m::MARIADB_CLIENT_PROGRESS | m::MARIADB_CLIENT_STMT_BULK_OPERATIONS |
    m::MARIADB_CLIENT_EXTENDED_METADATA | m::MARIADB_CLIENT_CACHE_METADATA;
const std::string kScramble = "0123456789abcdefghij";

m::Packet packet(std::string_view payload, uint8_t seq) {
  return m::Packet{seq, seq, payload};
}

std::string greeting_payload(std::string plugin, uint64_t caps = kMysql8Capabilities) {
  m::HandshakeV10 g;
  g.server_version = "8.0.36";
  g.connection_id = 99;
  g.auth_plugin_data = kScramble;
  g.capabilities = caps;
  g.auth_plugin_name = std::move(plugin);
  return *m::encode_handshake_v10(g);
}

MysqlUpstreamLoginRequest request(std::optional<std::string> password = "s3cret") {
  MysqlUpstreamLoginRequest r;
  r.db_service = "my1";
  r.user = "alice";
  r.database = "app";
  r.password = std::move(password);
  r.missing_password = "set TELEPORT_DB_PASSWORD_MY1";
  r.client_capabilities = kAgentGreetingCapabilities & 0x00bfa28d;  // what mariadb negotiates
  r.character_set = 45;
  r.max_packet_size = 1 << 24;
  r.connect_attributes = {{"program_name", "mysql"}};
  return r;
}

// Runs the login up to the HandshakeResponse41 and returns it parsed.
m::HandshakeResponse41 start(MysqlUpstreamLogin& login, const std::string& greeting) {
  std::string g = greeting;
  auto ssl = login.on_greeting(packet(g, 0));
  EXPECT_TRUE(ssl.ok()) << (ssl.ok() ? "" : ssl.error().message);
  if (!ssl.ok()) return {};
  EXPECT_EQ(ssl->size(), 4u + m::kSslRequestSize);
  EXPECT_EQ((*ssl)[3], 1) << "SSLRequest is packet 1";
  EXPECT_TRUE(m::is_ssl_request(ssl->substr(4)));
  auto response = login.handshake_response();
  EXPECT_TRUE(response.ok());
  EXPECT_EQ((*response)[3], 2) << "HandshakeResponse41 is packet 2";
  auto parsed = m::parse_handshake_response41(response->substr(4));
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : m::HandshakeResponse41{};
}

std::string ok_payload() {
  return m::encode_ok_packet(m::OkPacket{0, 0, 0, m::SERVER_STATUS_AUTOCOMMIT, 0, "", ""},
                             m::CLIENT_PROTOCOL_41);
}

TEST(UpstreamCapabilities, AsksForWhatTheClientNegotiatedPlusTls) {
  const uint64_t client = request().client_capabilities;
  auto caps = upstream_capabilities(client, kMysql8Capabilities);
  ASSERT_TRUE(caps.ok()) << caps.error().message;
  EXPECT_TRUE(*caps & m::CLIENT_SSL);
  EXPECT_TRUE(*caps & m::CLIENT_PLUGIN_AUTH);
  EXPECT_FALSE(*caps & m::CLIENT_COMPRESS);
  EXPECT_FALSE(*caps & m::CLIENT_CONNECT_WITH_DB) << "set by the login when it names a database";
  // The command-phase layout is exactly the client's.
  for (uint64_t bit : {m::CLIENT_DEPRECATE_EOF, m::CLIENT_SESSION_TRACK, m::CLIENT_MULTI_RESULTS,
                       m::CLIENT_QUERY_ATTRIBUTES, m::CLIENT_OPTIONAL_RESULTSET_METADATA})
    EXPECT_EQ(bool(*caps & bit), bool(client & bit)) << bit;

  auto mariadb = upstream_capabilities(client, kMariaDbCapabilities);
  ASSERT_TRUE(mariadb.ok()) << mariadb.error().message;
  EXPECT_FALSE(*mariadb & m::kMariaDbCapabilitiesMask) << "the client's link had no MariaDB extensions";
}

TEST(UpstreamCapabilities, RefusesServersThatCannotMatchTheClient) {
  auto no_tls = upstream_capabilities(kAgentGreetingCapabilities, kMysql8Capabilities & ~m::CLIENT_SSL);
  ASSERT_FALSE(no_tls.ok());
  EXPECT_NE(no_tls.error().message.find("TLS"), std::string::npos);

  auto old =
      upstream_capabilities(kAgentGreetingCapabilities, kMysql8Capabilities & ~m::CLIENT_DEPRECATE_EOF);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().message.find("CLIENT_DEPRECATE_EOF"), std::string::npos);

  // A client that did not negotiate it does not need it.
  EXPECT_TRUE(upstream_capabilities(kAgentGreetingCapabilities & ~m::CLIENT_DEPRECATE_EOF,
                                    kMysql8Capabilities & ~m::CLIENT_DEPRECATE_EOF)
                  .ok());
  auto mariadb_ext = upstream_capabilities(kMariaDbCapabilities, kMysql8Capabilities);
  ASSERT_FALSE(mariadb_ext.ok());
  EXPECT_NE(mariadb_ext.error().message.find("MariaDB"), std::string::npos);
}

TEST(UpstreamLogin, NativePasswordInTheResponse) {
  MysqlUpstreamLogin login(request());
  auto r = start(login, greeting_payload("mysql_native_password"));
  EXPECT_EQ(r.username, "alice");
  EXPECT_EQ(r.database, "app");
  EXPECT_TRUE(r.capabilities & m::CLIENT_CONNECT_WITH_DB);
  EXPECT_EQ(r.auth_plugin_name, "mysql_native_password");
  EXPECT_EQ(r.auth_response, m::native_password_scramble("s3cret", kScramble));
  EXPECT_EQ(r.character_set, 45);
  ASSERT_EQ(r.connect_attributes.size(), 1u);

  std::string ok = ok_payload();
  auto step = login.on_packet(packet(ok, 3));
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_TRUE(step->done);
  EXPECT_TRUE(step->reply.empty());
  EXPECT_EQ(step->ok.status_flags, m::SERVER_STATUS_AUTOCOMMIT);
}

TEST(UpstreamLogin, CachingSha2FastAndFullAuthentication) {
  for (bool full : {false, true}) {
    MysqlUpstreamLogin login(request());
    auto r = start(login, greeting_payload("caching_sha2_password"));
    EXPECT_EQ(r.auth_response, m::caching_sha2_scramble("s3cret", kScramble));
    std::string more = m::encode_auth_more_data(full ? "\x04" : "\x03");
    auto step = login.on_packet(packet(more, 3));
    ASSERT_TRUE(step.ok()) << step.error().message;
    EXPECT_FALSE(step->done);
    if (full) {
      // The password in clear, NUL-terminated, as packet 4 (the login runs inside TLS).
      EXPECT_EQ(step->reply, frame(std::string("s3cret") + '\0', 4));
    } else {
      EXPECT_TRUE(step->reply.empty());
    }
    std::string ok = ok_payload();
    EXPECT_TRUE(login.on_packet(packet(ok, full ? 5 : 4))->done);
  }
}

TEST(UpstreamLogin, ClearPasswordAfterAnAuthSwitch) {
  // RDS IAM and MariaDB PAM: the account's plugin differs from the greeting's.
  MysqlUpstreamLogin login(request("iam-token"));
  start(login, greeting_payload("mysql_native_password"));
  std::string change = *m::encode_auth_switch_request({"mysql_clear_password", ""});
  auto step = login.on_packet(packet(change, 3));
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_EQ(step->reply, frame(std::string("iam-token") + '\0', 4));

  // A switch to native password with a new scramble is answered with that scramble.
  MysqlUpstreamLogin native(request());
  start(native, greeting_payload("caching_sha2_password"));
  std::string salt = "ABCDEFGHIJKLMNOPQRST";
  std::string switch_native = *m::encode_auth_switch_request({"mysql_native_password", salt + '\0'});
  step = native.on_packet(packet(switch_native, 3));
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->reply, frame(m::native_password_scramble("s3cret", salt), 4));
}

TEST(UpstreamLogin, ServerRefusalsQuoteTheServer) {
  MysqlUpstreamLogin login(request());
  start(login, greeting_payload("mysql_native_password"));
  std::string err =
      m::encode_err_packet({1045, "28000", "Access denied for user 'alice'"}, m::CLIENT_PROTOCOL_41);
  auto step = login.on_packet(packet(err, 3));
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(step.error().message.find("my1"), std::string::npos);
  EXPECT_NE(step.error().message.find("Access denied for user 'alice'"), std::string::npos);
  ASSERT_TRUE(login.server_error().has_value());
  EXPECT_EQ(login.server_error()->error_code, 1045);
  EXPECT_EQ(login.server_error()->sql_state, "28000");

  // In place of the greeting (no capabilities yet, so no SQLSTATE): e.g. too many connections.
  MysqlUpstreamLogin busy(request());
  std::string too_many = m::encode_err_packet({1040, "", "Too many connections"}, 0);
  auto ssl = busy.on_greeting(packet(too_many, 0));
  ASSERT_FALSE(ssl.ok());
  EXPECT_EQ(ssl.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(ssl.error().message.find("Too many connections"), std::string::npos);
}

TEST(UpstreamLogin, ExplainsAMissingPasswordOrPlugin) {
  MysqlUpstreamLogin login(request(std::nullopt));
  auto r = start(login, greeting_payload("mysql_native_password"));
  EXPECT_TRUE(r.auth_response.empty()) << "an account without a password is allowed to try";
  std::string change = *m::encode_auth_switch_request({"mysql_clear_password", ""});
  auto step = login.on_packet(packet(change, 3));
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.error().message.find("TELEPORT_DB_PASSWORD_MY1"), std::string::npos);

  MysqlUpstreamLogin ed(request());
  start(ed, greeting_payload("client_ed25519"));  // answered with native password first
  std::string to_ed = *m::encode_auth_switch_request({"client_ed25519", kScramble});
  step = ed.on_packet(packet(to_ed, 3));
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.error().message.find("client_ed25519"), std::string::npos);
}

TEST(UpstreamLogin, RefusesAServerWithoutTls) {
  MysqlUpstreamLogin login(request());
  std::string g = greeting_payload("mysql_native_password", kMysql8Capabilities & ~m::CLIENT_SSL);
  auto ssl = login.on_greeting(packet(g, 0));
  ASSERT_FALSE(ssl.ok());
  EXPECT_NE(ssl.error().message.find("TLS"), std::string::npos);
  EXPECT_FALSE(login.handshake_response().ok()) << "no response without TLS";
}

}  // namespace
}  // namespace tp::db
