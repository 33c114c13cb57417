#include "common/strings.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

TEST(Strings, HexRoundTrip) {
  EXPECT_EQ(to_hex(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*from_hex("00ff10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(from_hex("0g").ok());
  EXPECT_FALSE(from_hex("abc").ok());
  std::string out = "prefix-";
  const uint8_t bytes[] = {0x0a, 0xb0};
  append_hex(out, bytes, sizeof bytes);
  EXPECT_EQ(out, "prefix-0ab0");
}

TEST(Strings, Base64RoundTrip) {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\1\2\3\xff", 5)}) {
    auto enc = base64_encode(s);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Strings, Labels) {
  auto l = parse_labels("env=dev, team = db");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->at("env"), "dev");
  EXPECT_EQ(l->at("team"), "db");
  auto bad = parse_labels("env");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("key=value"), std::string::npos);
  EXPECT_EQ(format_labels(*l), "env=dev,team=db");
}

TEST(Strings, Durations) {
  EXPECT_EQ(parse_duration("30s")->count(), 30);
  EXPECT_EQ(parse_duration("15m")->count(), 900);
  EXPECT_EQ(parse_duration("1h30m")->count(), 5400);
  EXPECT_EQ(parse_duration("90")->count(), 90);
  EXPECT_FALSE(parse_duration("1x").ok());
  EXPECT_FALSE(parse_duration("").ok());
  EXPECT_FALSE(parse_duration("h").ok());
}

TEST(Strings, HostPort) {
  auto a = parse_host_port("example.com:3080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 3080);
  EXPECT_EQ(parse_host_port("[::1]:5432")->host, "::1");
  EXPECT_EQ(parse_host_port("[::1]:5432")->str(), "[::1]:5432");
  EXPECT_EQ(parse_host_port("https://proxy.example.com:443/")->host, "proxy.example.com");
  EXPECT_EQ(parse_host_port("host", 443)->port, 443);
  EXPECT_FALSE(parse_host_port("host").ok());
  EXPECT_FALSE(parse_host_port("host:0").ok());
  EXPECT_FALSE(parse_host_port("host:99999").ok());
  EXPECT_FALSE(parse_host_port(":5432").ok());
}

TEST(Strings, SplitJoinTrim) {
  EXPECT_EQ(split_list(" a, b,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(trim("  x \n"), "x");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

}  // namespace
}  // namespace tp
