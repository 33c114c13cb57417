#include "protocol/mysql/wire.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace tp::mysql {
namespace {

using testing::bytes;

TEST(MysqlWire, FixedIntegersAreLittleEndian) {
  const std::string data = bytes({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a});
  PayloadReader r(data, "test");
  EXPECT_EQ(*r.u8("a"), 0x01);
  EXPECT_EQ(*r.u16("b"), 0x0302);
  EXPECT_EQ(*r.u24("c"), 0x060504u);
  EXPECT_EQ(*r.u32("d"), 0x0a090807u);
  EXPECT_TRUE(r.at_end());
  auto past = r.u8("e");
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().message.find("MySQL test: truncated reading e at offset 10"), std::string::npos)
      << past.error().message;
}

TEST(MysqlWire, TruncatedFixedIntegerDoesNotMove) {
  const std::string data = bytes({0x01, 0x02, 0x03});
  PayloadReader r(data, "test");
  EXPECT_FALSE(r.u32("x").ok());
  EXPECT_EQ(r.offset(), 0u);
  EXPECT_EQ(*r.u24("y"), 0x030201u);
}

struct LenencCase {
  uint64_t value;
  std::string encoded;
};

TEST(MysqlWire, LenencIntegerEdgeValues) {
  const LenencCase cases[] = {
      {0, bytes({0x00})},
      {250, bytes({0xfa})},
      {251, bytes({0xfc, 0xfb, 0x00})},
      {0xFFFF, bytes({0xfc, 0xff, 0xff})},
      {0x10000, bytes({0xfd, 0x00, 0x00, 0x01})},
      {0xFFFFFF, bytes({0xfd, 0xff, 0xff, 0xff})},
      {0x1000000, bytes({0xfe, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00})},
      {UINT64_MAX, bytes({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
  };
  for (const auto& c : cases) {
    std::string out;
    put_lenenc_int(out, c.value);
    EXPECT_EQ(out, c.encoded) << c.value;
    EXPECT_EQ(lenenc_int_size(c.value), c.encoded.size());
    PayloadReader r(c.encoded, "test");
    auto v = r.lenenc_int("v");
    ASSERT_TRUE(v.ok()) << c.value;
    EXPECT_EQ(*v, c.value);
    EXPECT_TRUE(r.at_end());
    // Every truncation of a multi-byte encoding is an error.
    for (size_t n = 0; n < c.encoded.size(); ++n) {
      PayloadReader t(std::string_view(c.encoded).substr(0, n), "test");
      EXPECT_FALSE(t.lenenc_int("v").ok()) << c.value << " cut at " << n;
    }
  }
}

TEST(MysqlWire, LenencNullAndUndefined) {
  const std::string null_byte = bytes({0xfb});
  PayloadReader a(null_byte, "test");
  auto n = a.lenenc_int_or_null("v");
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->has_value());
  PayloadReader b(null_byte, "test");
  EXPECT_FALSE(b.lenenc_int("v").ok());  // NULL is not a length
  const std::string ff = bytes({0xff});
  PayloadReader c(ff, "test");
  EXPECT_FALSE(c.lenenc_int_or_null("v").ok());
}

TEST(MysqlWire, LenencStrings) {
  std::string out;
  put_lenenc_string(out, "abc");
  put_lenenc_string(out, "");
  put_lenenc_string(out, std::string(300, 'x'));
  EXPECT_EQ(out.substr(0, 5), bytes({0x03, 'a', 'b', 'c', 0x00}));
  EXPECT_EQ(out.substr(5, 3), bytes({0xfc, 0x2c, 0x01}));
  PayloadReader r(out, "test");
  EXPECT_EQ(*r.lenenc_string("a"), "abc");
  EXPECT_EQ(*r.lenenc_string("b"), "");
  EXPECT_EQ(*r.lenenc_string("c"), std::string(300, 'x'));
  EXPECT_TRUE(r.at_end());

  // A length that claims more than the packet holds is an error, not an over-read.
  const std::string lying = bytes({0x05, 'a', 'b'});
  PayloadReader l(lying, "test");
  EXPECT_FALSE(l.lenenc_string("s").ok());
  const std::string huge = bytes({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'a'});
  PayloadReader h(huge, "test");
  EXPECT_FALSE(h.lenenc_string("s").ok());
}

TEST(MysqlWire, NulStrings) {
  const std::string data = bytes({'h', 'i', 0x00, 0x00, 'x'});
  PayloadReader r(data, "test");
  EXPECT_EQ(*r.nul_string("a"), "hi");
  EXPECT_EQ(*r.nul_string("b"), "");
  auto missing = r.nul_string("c");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no NUL terminator"), std::string::npos);
  EXPECT_EQ(r.rest(), "x");

  std::string out;
  EXPECT_TRUE(put_nul_string(out, "user", "username").ok());
  EXPECT_EQ(out, std::string("user\0", 5));
  auto bad = put_nul_string(out, std::string("admin\0x", 7), "username");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("username contains a NUL"), std::string::npos);
}

TEST(MysqlWire, ConnectAttributesRoundTrip) {
  ConnectAttributes attrs = {{"_client_name", "libmariadb"}, {"_pid", "42"}, {"empty", ""}};
  std::string out;
  put_connect_attributes(out, attrs);
  PayloadReader r(out, "test");
  auto back = read_connect_attributes(r);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, attrs);
  EXPECT_TRUE(r.at_end());
  testing::expect_prefixes_fail(out, out.size(), [](std::string_view p) {
    PayloadReader t(p, "test");
    return read_connect_attributes(t);
  });
}

}  // namespace
}  // namespace tp::mysql
