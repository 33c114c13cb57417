#include "protocol/mysql/auth.h"

#include <gtest/gtest.h>

#include "common/strings.h"

namespace tp::mysql {
namespace {

// Salt "!\"#$%&'()*+,-./01234" (bytes 0x21..0x34). Expected values computed with Python's hashlib:
//   s1 = sha1(pw); xor(s1, sha1(salt + sha1(s1)))
//   h1 = sha256(pw); xor(h1, sha256(sha256(h1) + salt))
const std::string kSalt = "!\"#$%&'()*+,-./01234";

TEST(MysqlAuth, NativePasswordKnownVector) {
  EXPECT_EQ(to_hex(native_password_scramble("secret", kSalt)), "1f44f306295a10870fd7895d358cb5f975d7d47f");
  EXPECT_EQ(native_password_scramble("", kSalt), "");
  EXPECT_NE(native_password_scramble("secret", "other salt 012345678"),
            native_password_scramble("secret", kSalt));
}

TEST(MysqlAuth, CachingSha2KnownVector) {
  EXPECT_EQ(to_hex(caching_sha2_scramble("secret", kSalt)),
            "3e6e1d1225dfe8531b46e47caf897453dba8211b1e2fdca5e10ef0f98718b18e");
  EXPECT_EQ(caching_sha2_scramble("", kSalt), "");
}

TEST(MysqlAuth, ClearTextResponses) {
  EXPECT_EQ(clear_password_response("tok"), std::string("tok\0", 4));
  EXPECT_EQ(caching_sha2_full_auth_response("pw"), std::string("pw\0", 3));
}

TEST(MysqlAuth, CachingSha2Steps) {
  EXPECT_EQ(classify_caching_sha2_more_data("\x03"), CachingSha2Step::kFastAuthSuccess);
  EXPECT_EQ(classify_caching_sha2_more_data("\x04"), CachingSha2Step::kPerformFullAuth);
  EXPECT_EQ(classify_caching_sha2_more_data("-----BEGIN PUBLIC KEY-----"), CachingSha2Step::kOther);
  EXPECT_EQ(classify_caching_sha2_more_data(""), CachingSha2Step::kOther);
}

TEST(MysqlAuth, ScrambleFromPluginData) {
  EXPECT_EQ(scramble_from_plugin_data(kSalt + std::string(1, '\0')), kSalt);
  EXPECT_EQ(scramble_from_plugin_data(kSalt), kSalt);
}

TEST(MysqlAuth, MakeScrambleAvoidsNulAndDollar) {
  // A sequence RNG hits 0x00, '$' (0x24), 0x80 (-> 0x00) and 0xa4 (-> '$') within 20 bytes.
  for (uint8_t start : {0x00, 0x18, 0x78, 0x98}) {
    SequenceRng rng(start);
    const std::string s = make_scramble(rng);
    ASSERT_EQ(s.size(), 20u);
    for (char c : s) {
      EXPECT_NE(c, '\0');
      EXPECT_NE(c, '$');
      EXPECT_LT(static_cast<uint8_t>(c), 0x80);
    }
  }
}

}  // namespace
}  // namespace tp::mysql
