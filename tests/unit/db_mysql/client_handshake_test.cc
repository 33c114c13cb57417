#include "db/mysql/client_handshake.h"

#include <gtest/gtest.h>

#include "common/strings.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/packet.h"
#include "unit/protocol_mysql/fixtures.h"

namespace tp::db {
namespace {

namespace m = tp::mysql;
using m::testing::frame;

// What mariadb 10.11 (libmariadb 3.3.20) sent for `mariadb -u alice -D app` to a greeting with
// kAgentGreetingCapabilities, captured from the wire: sequence id 1, no password.
std::string mariadb_response_packet() {
  return *from_hex(
      "c00000018da2bf0000001000210000000000000000000000000000000000000000000000616c6963650000617070006d79"
      "73716c5f6e61746976655f70617373776f7264007e035f6f73054c696e75780c5f636c69656e745f6e616d650a6c6962"
      "6d617269616462045f70696404383235350f5f636c69656e745f76657273696f6e06332e332e3230095f706c6174666f"
      "726d067838365f36340c70726f6772616d5f6e616d65056d7973716c0c5f7365727665725f686f73740931323"
      "72e302e302e31");
}

m::HandshakeV10 greeting() {
  SequenceRng rng;
  return make_client_greeting("", 7, rng);
}

TEST(ClientGreeting, OffersNoTlsAndNativePasswordWithAFreshScramble) {
  SequenceRng rng(40);
  auto g = make_client_greeting("", 0xF0000001, rng);
  EXPECT_EQ(g.server_version, "8.0.36-Teleport");
  EXPECT_EQ(g.connection_id, 0xF0000001u);
  EXPECT_EQ(g.auth_plugin_name, "mysql_native_password");
  EXPECT_EQ(g.auth_plugin_data.size(), 20u);
  EXPECT_EQ(g.auth_plugin_data.find('\0'), std::string::npos);
  EXPECT_FALSE(g.capabilities & m::CLIENT_SSL);
  EXPECT_FALSE(g.capabilities & m::CLIENT_COMPRESS);
  EXPECT_TRUE(g.capabilities & m::CLIENT_MYSQL) << "no MariaDB extended capabilities";
  EXPECT_TRUE(g.capabilities & m::CLIENT_DEPRECATE_EOF);
  EXPECT_EQ(make_client_greeting("10.11.6-MariaDB", 1, rng).server_version, "10.11.6-MariaDB");

  // It encodes and parses back.
  auto bytes = m::encode_handshake_v10(g);
  ASSERT_TRUE(bytes.ok());
  auto parsed = m::parse_handshake_v10(*bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->auth_plugin_data, g.auth_plugin_data);
  EXPECT_EQ(parsed->capabilities, g.capabilities);
}

TEST(TakeClientHello, ReadsTheRealClientsResponse) {
  std::string buffer = mariadb_response_packet() + "next";
  auto hello = take_client_hello(greeting(), buffer);
  ASSERT_TRUE(hello.ok()) << hello.error().message;
  ASSERT_TRUE(hello->has_value());
  const MysqlClientHello& h = **hello;
  EXPECT_EQ(h.response.username, "alice");
  EXPECT_EQ(h.response.database, "app");
  EXPECT_EQ(h.next_sequence_id, 2);
  EXPECT_FALSE(h.native_handoff);
  EXPECT_EQ(h.capabilities, kAgentGreetingCapabilities & h.response.capabilities);
  EXPECT_EQ(buffer, "next") << "only the response is consumed";
}

TEST(TakeClientHello, WaitsForTheWholePacket) {
  std::string full = mariadb_response_packet();
  for (size_t n : {size_t{0}, size_t{3}, size_t{4}, full.size() - 1}) {
    std::string buffer = full.substr(0, n);
    auto hello = take_client_hello(greeting(), buffer);
    ASSERT_TRUE(hello.ok()) << n;
    EXPECT_FALSE(hello->has_value()) << n;
    EXPECT_EQ(buffer.size(), n);
  }
}

TEST(TakeClientHello, RefusesWhatTheGreetingDidNotAskFor) {
  m::SslRequest ssl{m::CLIENT_PROTOCOL_41 | m::CLIENT_SSL, 1 << 24, 45};
  std::string tls = frame(m::encode_ssl_request(ssl), 1);
  auto hello = take_client_hello(greeting(), tls);
  ASSERT_FALSE(hello.ok());
  EXPECT_NE(hello.error().message.find("TLS"), std::string::npos);

  std::string wrong_seq = mariadb_response_packet();
  wrong_seq[3] = 5;
  hello = take_client_hello(greeting(), wrong_seq);
  ASSERT_FALSE(hello.ok());
  EXPECT_NE(hello.error().message.find("sequence id 5"), std::string::npos);

  std::string huge = m::testing::bytes({0xff, 0xff, 0x01, 0x01});  // 130 KiB announced
  hello = take_client_hello(greeting(), huge);
  EXPECT_FALSE(hello.ok());

  std::string garbage = frame("\x01\x02", 1);
  EXPECT_FALSE(take_client_hello(greeting(), garbage).ok());
}

// The native listener's handoff: the proxy's greeting (with CLIENT_SSL), then the response the
// client sent inside TLS, with sequence id 2.
std::string handoff(uint64_t greeting_caps = kAgentGreetingCapabilities | m::CLIENT_SSL) {
  m::HandshakeV10 g = greeting();
  g.capabilities = greeting_caps;
  std::string response = mariadb_response_packet();
  response[3] = 2;
  return frame(*m::encode_handshake_v10(g), 0) + response;
}

TEST(NativeHandoff, GivesTheResponseAndTheNextSequenceId) {
  auto hello = parse_native_handoff(handoff());
  ASSERT_TRUE(hello.ok()) << hello.error().message;
  EXPECT_TRUE(hello->native_handoff);
  EXPECT_EQ(hello->response.username, "alice");
  EXPECT_EQ(hello->response.database, "app");
  EXPECT_EQ(hello->next_sequence_id, 3);
  EXPECT_EQ(hello->server_version, "8.0.36-Teleport");

  // Capabilities are what the proxy's greeting offered, whatever the agent would offer itself.
  auto narrow = parse_native_handoff(handoff(kAgentGreetingCapabilities & ~m::CLIENT_SESSION_TRACK));
  ASSERT_TRUE(narrow.ok());
  EXPECT_FALSE(narrow->capabilities & m::CLIENT_SESSION_TRACK);
  EXPECT_TRUE(hello->capabilities & m::CLIENT_SESSION_TRACK);
  EXPECT_FALSE(hello->capabilities & m::CLIENT_DEPRECATE_EOF) << "libmariadb does not ask for it";
}

TEST(NativeHandoff, ExplainsWhatIsWrong) {
  const std::string good = handoff();
  struct Case {
    const char* name;
    std::string data;
    const char* says;
  };
  std::string not_greeting = frame("\x09garbage", 0) + mariadb_response_packet();
  Case cases[] = {
      {"cut in the greeting", good.substr(0, 20), "inside the greeting"},
      {"greeting only", good.substr(0, good.size() - mariadb_response_packet().size()), "handshake response"},
      {"cut in the response", good.substr(0, good.size() - 3), "handshake response"},
      {"trailing bytes", good + "x", "bytes follow"},
      {"not a greeting", not_greeting, "protocol version"},
  };
  for (const auto& c : cases) {
    auto hello = parse_native_handoff(c.data);
    ASSERT_FALSE(hello.ok()) << c.name;
    EXPECT_NE(hello.error().message.find(c.says), std::string::npos)
        << c.name << ": " << hello.error().message;
    EXPECT_NE(hello.error().message.find("handoff"), std::string::npos) << c.name;
  }
}

TEST(ClientAnswers, OkAndErrCarryTheNextSequenceIdAndTheClientsLayout) {
  MysqlClientHello hello;
  hello.capabilities = m::CLIENT_PROTOCOL_41;
  hello.next_sequence_id = 3;
  // OK_Packet: 00, affected 0, insert id 0, status 0x0002, warnings 0.
  EXPECT_EQ(to_hex(encode_client_auth_ok(hello, m::SERVER_STATUS_AUTOCOMMIT)), "0700000300000002000000");

  m::ErrPacket err{1045, "28000", "no"};
  // ERR_Packet: ff, 1045 (0x0415), '#', "28000", message.
  EXPECT_EQ(to_hex(encode_client_error(hello, err)), "0b000003ff1504233238303030" + to_hex("no"));

  // Before the response (no capabilities yet): no SQLSTATE marker, sequence id 0.
  EXPECT_EQ(to_hex(encode_client_error(MysqlClientHello{}, err)), "05000000ff1504" + to_hex("no"));
}

TEST(ErrPacketFor, MapsErrorKindsToWhatClientsKnow) {
  struct Case {
    Error error;
    uint16_t code;
    const char* state;
  };
  Case cases[] = {
      {access_denied("roles"), 1045, "28000"},  {unauthenticated("cert"), 1045, "28000"},
      {expired("cert"), 1045, "28000"},         {unavailable("down"), 1105, "08S01"},
      {invalid_argument("bad"), 1043, "08S01"}, {internal_error("bug"), 1105, "HY000"},
  };
  for (const auto& c : cases) {
    auto err = err_packet_for(c.error);
    EXPECT_EQ(err.error_code, c.code) << c.error.message;
    EXPECT_EQ(err.sql_state, c.state) << c.error.message;
    EXPECT_EQ(err.message, c.error.message);
  }
}

}  // namespace
}  // namespace tp::db
