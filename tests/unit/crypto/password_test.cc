#include "crypto/password.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>

#include "common/strings.h"
#include "crypto/internal/base32.h"

namespace tp {
namespace {

// Each hash costs ~50 ms (Argon2id, 19 MiB): keep their number small.
TEST(Password, HashVerifiesOnlyTheSamePassword) {
  SequenceRng rng;
  auto hash = hash_password("correct horse battery", rng);
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  // Salt 00 01 .. 0f from the sequence, base64 without padding.
  EXPECT_TRUE(starts_with(*hash, "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$")) << *hash;
  EXPECT_EQ(hash->size(), std::string("$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$").size() + 43);

  EXPECT_TRUE(verify_password("correct horse battery", *hash));
  EXPECT_FALSE(verify_password("correct horse batterY", *hash));
  EXPECT_FALSE(verify_password("", *hash));
  EXPECT_FALSE(verify_password("correct horse battery", "$argon2id$garbage"));
  EXPECT_FALSE(verify_password("correct horse battery", ""));
}

TEST(Password, SaltMakesHashesDiffer) {
  auto a = hash_password("same password", crypto_rng());
  auto b = hash_password("same password", crypto_rng());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_password("same password", *b));
}

// Hashes and checks twice and exits 0 if the heap kept no free megabytes and nothing stays mapped.
[[noreturn]] void hash_twice_and_exit_with_heap_state() {
  return_password_work_areas_to_the_system();
  for (int i = 0; i < 2; ++i) {
    auto hash = hash_password("correct horse battery", crypto_rng());
    if (!hash.ok() || !verify_password("correct horse battery", *hash)) std::_Exit(2);
  }
  const struct mallinfo2 info = mallinfo2();
  std::fprintf(stderr, "free heap bytes %zu, mapped bytes %zu\n", info.fordblks, info.hblkhd);
  std::_Exit(info.fordblks < (size_t{4} << 20) && info.hblkhd < (size_t{16} << 20) ? 0 : 1);
}

TEST(Password, WorkAreasGoBackToTheSystem) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer replaces glibc's allocator";
#endif
  // In a fresh process (the threadsafe style runs the test binary again), where no earlier hash has
  // moved glibc's threshold. Without the fixed threshold the second work area comes from the heap
  // and its 19 MiB stay there, free but resident.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(hash_twice_and_exit_with_heap_state(), ::testing::ExitedWithCode(0), "");
}

TEST(Password, StrengthRules) {
  EXPECT_FALSE(check_password_strength("").ok());
  Status short_pw = check_password_strength("1234567");
  ASSERT_FALSE(short_pw.ok());
  EXPECT_EQ(short_pw.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(short_pw.error().message, "password must be at least 8 characters");
  EXPECT_TRUE(check_password_strength("12345678").ok());
  EXPECT_TRUE(check_password_strength(std::string(1024, 'x')).ok());
  Status long_pw = check_password_strength(std::string(1025, 'x'));
  ASSERT_FALSE(long_pw.ok());
  EXPECT_EQ(long_pw.error().message, "password must be at most 1024 characters");
  // Characters, not bytes: 4 two-byte letters are 4 characters.
  EXPECT_FALSE(check_password_strength("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9").ok());
  EXPECT_TRUE(check_password_strength("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9").ok());
}

TEST(Base32, Rfc4648Vectors) {
  // RFC 4648 section 10, without the padding.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},          {"f", "MY"},          {"fo", "MZXQ"},         {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(crypto_internal::base32_encode(plain), encoded);
    auto back = crypto_internal::base32_decode(encoded);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, plain);
  }
  auto padded = crypto_internal::base32_decode("mzxw 6yq=");
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(*padded, "foob");
  EXPECT_FALSE(crypto_internal::base32_decode("MZXW1").ok());
  EXPECT_FALSE(crypto_internal::base32_decode("MY=A").ok());
}

// RFC 6238 appendix B, SHA-1 rows. The RFC prints 8 digits; a 6-digit code is
// the same truncated value mod 10^6, i.e. the last 6 digits.
constexpr const char* kRfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";  // base32("12345678901234567890")

TEST(Totp, Rfc6238Vectors) {
  ASSERT_EQ(crypto_internal::base32_encode("12345678901234567890"), kRfcSecret);
  const std::pair<int64_t, const char*> vectors[] = {
      {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
      {1234567890, "005924"}, {2000000000, "279037"},
  };
  // The RFC's last row, T=20000000000 (year 2603), is beyond what a
  // nanosecond system_clock::time_point can hold (year 2262).
  for (const auto& [t, code] : vectors) {
    auto got = totp_code(kRfcSecret, from_unix_seconds(t));
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, code) << "T=" << t;
  }
}

TEST(Totp, VerifyAllowsOneStepOfDrift) {
  TimePoint t = from_unix_seconds(1111111109);  // code 081804, step 37037036
  EXPECT_TRUE(verify_totp(kRfcSecret, "081804", t));
  EXPECT_TRUE(verify_totp(kRfcSecret, "081804", t + std::chrono::seconds(30)));
  EXPECT_TRUE(verify_totp(kRfcSecret, "081804", t - std::chrono::seconds(30)));
  EXPECT_FALSE(verify_totp(kRfcSecret, "081804", t + std::chrono::seconds(61)));
  EXPECT_FALSE(verify_totp(kRfcSecret, "081804", t - std::chrono::seconds(60)));
  EXPECT_FALSE(verify_totp(kRfcSecret, "081805", t));
  EXPECT_FALSE(verify_totp(kRfcSecret, "81804", t));
  EXPECT_FALSE(verify_totp("not base32!", "081804", t));
  EXPECT_FALSE(totp_code("", t).ok());
}

TEST(Totp, NewSecretIs160RandomBits) {
  SequenceRng rng(1);
  std::string secret = new_totp_secret(rng);
  EXPECT_EQ(secret.size(), 32u);
  auto raw = crypto_internal::base32_decode(secret);
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw->size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(static_cast<uint8_t>((*raw)[i]), i + 1);
  EXPECT_NE(new_totp_secret(crypto_rng()), new_totp_secret(crypto_rng()));
  EXPECT_TRUE(totp_code(secret, from_unix_seconds(0)).ok());
}

}  // namespace
}  // namespace tp
