#include "protocol/postgres/startup.h"

#include <gtest/gtest.h>

#include "wire_bytes.h"

namespace tp::pg {
namespace {

using test::be32;
using test::cstr;
using test::startup_packet;

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// "Message Formats" → StartupMessage, as psql sends it.
std::string psql_startup() {
  return startup_packet(be32(196608) + cstr("user") + cstr("alice") + cstr("database") + cstr("orders") +
                        cstr("application_name") + cstr("psql") + cstr("options") +
                        cstr("-c search_path=app") + std::string(1, '\0'));
}

TEST(StartupPacket, SslRequestParsesAndEncodesToTheDocumentedBytes) {
  const std::string bytes("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);  // 8, 80877103
  auto p = parse_startup_packet(bytes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(std::holds_alternative<SslRequest>(*p));
  EXPECT_EQ(encode_ssl_request(), bytes);
  EXPECT_EQ(*frame_startup_packet(bytes), 8u);
}

TEST(StartupPacket, GssEncRequest) {
  const std::string bytes("\x00\x00\x00\x08\x04\xd2\x16\x30", 8);  // 80877104
  auto p = parse_startup_packet(bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(std::holds_alternative<GssEncRequest>(*p));
  EXPECT_EQ(encode_gssenc_request(), bytes);
}

TEST(StartupPacket, CancelRequestRoundTrip) {
  const std::string bytes = be32(16) + be32(80877102) + be32(4242) + be32(0xdeadbeef);
  auto p = parse_startup_packet(bytes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto* c = std::get_if<CancelRequest>(&*p);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->process_id, 4242);
  EXPECT_EQ(c->secret_key, static_cast<int32_t>(0xdeadbeef));
  EXPECT_EQ(encode_cancel_request(*c), bytes);
}

TEST(StartupPacket, CancelRequestWithLongSecretKeyIsUnsupported) {
  // Protocol 3.2 allows secret keys of up to 256 bytes.
  auto p = parse_startup_packet(be32(44) + be32(80877102) + be32(1) + std::string(32, 'k'));
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(contains(p.error().message, "protocol 3.0")) << p.error().message;
}

TEST(StartupPacket, StartupMessageParameters) {
  auto p = parse_startup_packet(psql_startup());
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto& m = std::get<StartupMessage>(*p);
  EXPECT_EQ(m.protocol_version, kProtocolVersion3);
  EXPECT_EQ(m.protocol_major(), 3);
  EXPECT_EQ(m.protocol_minor(), 0);
  EXPECT_EQ(m.user(), "alice");
  EXPECT_EQ(m.database(), "orders");
  EXPECT_EQ(m.parameter("application_name"), "psql");
  EXPECT_EQ(m.parameter("options"), "-c search_path=app");
  EXPECT_EQ(m.parameter("absent"), "");
  EXPECT_EQ(m.parameters.size(), 4u);
}

TEST(StartupPacket, DatabaseDefaultsToUser) {
  auto p =
      parse_startup_packet(startup_packet(be32(196608) + cstr("user") + cstr("bob") + std::string(1, '\0')));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<StartupMessage>(*p).database(), "bob");
}

TEST(StartupPacket, MinorVersionAboveZeroIsLeftToNegotiation) {
  auto p =
      parse_startup_packet(startup_packet(be32(196610) + cstr("user") + cstr("bob") + std::string(1, '\0')));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(std::get<StartupMessage>(*p).protocol_minor(), 2);
}

TEST(StartupPacket, EncodeStartupMessageRoundTripAndExactBytes) {
  StartupMessage m;
  m.parameters = {{"user", "alice"}, {"database", "orders"}};
  auto bytes = encode_startup_message(m);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  // "user" comes first; the rest in name order.
  EXPECT_EQ(*bytes, startup_packet(be32(196608) + cstr("user") + cstr("alice") + cstr("database") +
                                   cstr("orders") + std::string(1, '\0')));
  auto back = parse_startup_packet(*bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<StartupMessage>(*back).parameters, m.parameters);
}

TEST(StartupPacket, EncodeRefusesInjectionAndMissingUser) {
  StartupMessage m;
  m.parameters = {{"database", "orders"}};
  EXPECT_FALSE(encode_startup_message(m).ok());
  m.parameters = {{"user", std::string("alice\0options\0-c x", 18)}};
  auto r = encode_startup_message(m);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "NUL")) << r.error().message;
  m.parameters = {{"user", "alice"}, {"", "x"}};
  EXPECT_FALSE(encode_startup_message(m).ok());
  m.parameters = {{"user", "alice"}, {"options", std::string(10000, 'x')}};
  r = encode_startup_message(m);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "10000")) << r.error().message;
}

TEST(StartupPacket, UnsupportedProtocolVersions) {
  for (uint32_t version : {2u << 16, 4u << 16, 0u, 1234u << 16 | 9999}) {
    auto p = parse_startup_packet(
        startup_packet(be32(version) + cstr("user") + cstr("bob") + std::string(1, '\0')));
    ASSERT_FALSE(p.ok()) << version;
    EXPECT_TRUE(contains(p.error().message, "unsupported") || contains(p.error().message, "unknown"))
        << p.error().message;
  }
  auto v2 = parse_startup_packet(startup_packet(be32(2u << 16) + std::string(1, '\0')));
  ASSERT_FALSE(v2.ok());
  EXPECT_TRUE(contains(v2.error().message, "protocol 2.0")) << v2.error().message;
}

TEST(StartupPacket, MissingOrEmptyUser) {
  for (const std::string& body : {be32(196608) + cstr("database") + cstr("x") + std::string(1, '\0'),
                                  be32(196608) + cstr("user") + cstr("") + std::string(1, '\0')}) {
    auto p = parse_startup_packet(startup_packet(body));
    ASSERT_FALSE(p.ok());
    EXPECT_TRUE(contains(p.error().message, "\"user\"")) << p.error().message;
  }
}

TEST(StartupPacket, MalformedParameterLists) {
  struct Case {
    std::string body;
    std::string expect;
  };
  for (const auto& c : std::vector<Case>{
           {be32(196608) + cstr("user") + cstr("bob"), "terminating NUL"},
           {be32(196608) + cstr("user") + "bob", "no NUL-terminated value"},
           {be32(196608) + cstr("user") + cstr("bob") + cstr("user") + cstr("eve") + std::string(1, '\0'),
            "twice"},
           {be32(196608) + cstr("user") + cstr("bob") + std::string(1, '\0') + "x", "trailing"},
       }) {
    auto p = parse_startup_packet(startup_packet(c.body));
    ASSERT_FALSE(p.ok()) << c.expect;
    EXPECT_TRUE(contains(p.error().message, c.expect)) << p.error().message;
  }
}

TEST(StartupPacket, TruncatedOrInconsistentLength) {
  EXPECT_FALSE(parse_startup_packet(std::string("\x00\x00\x00\x08\x04\xd2", 6)).ok());
  // Length word says 12 but the packet has 8 bytes.
  auto p = parse_startup_packet(be32(12) + be32(80877103));
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(contains(p.error().message, "length word")) << p.error().message;
  EXPECT_FALSE(parse_startup_packet(be32(12) + be32(80877103) + be32(0)).ok());  // SSLRequest must be 8 bytes
}

TEST(FrameStartupPacket, NeedsMoreDataAtEverySplitPoint) {
  const std::string packet = psql_startup();
  for (size_t n = 0; n < packet.size(); ++n) {
    auto f = frame_startup_packet(std::string_view(packet).substr(0, n));
    ASSERT_TRUE(f.ok()) << n;
    EXPECT_EQ(*f, 0u) << n;
  }
  EXPECT_EQ(*frame_startup_packet(packet), packet.size());
  EXPECT_EQ(*frame_startup_packet(packet + "trailing"), packet.size());
}

TEST(FrameStartupPacket, LengthLimits) {
  // MAX_STARTUP_PACKET_LENGTH counts the bytes after the length word.
  EXPECT_EQ(*frame_startup_packet(be32(10004)), 0u);  // acceptable, incomplete
  auto big = frame_startup_packet(be32(10005));
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(contains(big.error().message, "MAX_STARTUP_PACKET_LENGTH")) << big.error().message;
  EXPECT_FALSE(frame_startup_packet(be32(0xffffffff)).ok());
  EXPECT_FALSE(frame_startup_packet(be32(7)).ok());
  EXPECT_FALSE(frame_startup_packet(be32(0)).ok());
  EXPECT_FALSE(parse_startup_packet(be32(10005) + be32(196608) + std::string(9997, 'a')).ok());
}

TEST(StartupPacket, LargestAcceptedStartupMessage) {
  // 4 (length) + 4 (version) + "user\0bob\0" (9) + "options\0" (8) + value + NUL + terminator = 10004.
  std::string value(10004 - 4 - 4 - 9 - 8 - 1 - 1, 'x');
  std::string packet = startup_packet(be32(196608) + cstr("user") + cstr("bob") + cstr("options") +
                                      cstr(value) + std::string(1, '\0'));
  ASSERT_EQ(packet.size(), 10004u);
  EXPECT_EQ(*frame_startup_packet(packet), 10004u);
  EXPECT_TRUE(parse_startup_packet(packet).ok());
}

TEST(StartupPacket, SslResponseBytes) {
  EXPECT_EQ(encode_ssl_response(true), "S");
  EXPECT_EQ(encode_ssl_response(false), "N");
}

}  // namespace
}  // namespace tp::pg
