#include <gtest/gtest.h>

#include "common/rng.h"
#include "common/strings.h"
#include "protocol/postgres/md5_password.h"
#include "protocol/postgres/scram_client.h"

namespace tp::pg {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Md5Password, KnownVector) {
  // Computed independently with Python's hashlib:
  //   inner = md5(b"secret" + b"postgres").hexdigest()   # 53f48b7c4b76a86ce72276c5755f217d
  //   "md5" + md5(inner.encode() + bytes([1, 2, 3, 4])).hexdigest()
  auto r = compute_md5_password("postgres", "secret", {1, 2, 3, 4});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, "md5bb41a296aab6baccb36ff243a562abff");
  EXPECT_NE(*compute_md5_password("postgres", "secret", {1, 2, 3, 5}), *r);
  EXPECT_NE(*compute_md5_password("postgre", "ssecret", {1, 2, 3, 4}), *r);
}

// RFC 7677 section 3: the SCRAM-SHA-256 example exchange.
constexpr std::string_view kRfcNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"
    "Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

TEST(ScramSha256Client, Rfc7677Vector) {
  auto c = ScramSha256Client::with_nonce("user", "pencil", kRfcNonce);
  EXPECT_EQ(c.mechanism(), "SCRAM-SHA-256");
  EXPECT_EQ(c.client_first_message(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final_message = c.client_final_message(kRfcServerFirst);
  ASSERT_TRUE(final_message.ok()) << final_message.error().message;
  EXPECT_EQ(*final_message, kRfcClientFinal);
  auto verified = c.verify_server_final(kRfcServerFinal);
  EXPECT_TRUE(verified.ok()) << verified.error().message;
}

TEST(ScramSha256Client, WrongPasswordGivesADifferentProofAndRejectsTheServer) {
  auto c = ScramSha256Client::with_nonce("user", "pencils", kRfcNonce);
  auto final_message = c.client_final_message(kRfcServerFirst);
  ASSERT_TRUE(final_message.ok());
  EXPECT_NE(*final_message, kRfcClientFinal);
  auto verified = c.verify_server_final(kRfcServerFinal);
  ASSERT_FALSE(verified.ok());
  EXPECT_TRUE(contains(verified.error().message, "signature does not match")) << verified.error().message;
}

TEST(ScramSha256Client, RepeatedLoginsWithTheSameSaltKeepGivingTheRightProof) {
  // The salted password is remembered per (password, salt, iterations): the
  // right password still matches the vector and a wrong one still does not,
  // in either order, however often.
  for (int round = 0; round < 3; ++round) {
    for (const char* password : {"pencils", "pencil"}) {
      auto c = ScramSha256Client::with_nonce("user", password, kRfcNonce);
      auto final_message = c.client_final_message(kRfcServerFirst);
      ASSERT_TRUE(final_message.ok());
      EXPECT_EQ(*final_message == kRfcClientFinal, std::string(password) == "pencil") << password;
      EXPECT_EQ(c.verify_server_final(kRfcServerFinal).ok(), std::string(password) == "pencil");
    }
  }
}

TEST(ScramSha256Client, ServerFinalErrorsAndOrder) {
  auto c = ScramSha256Client::with_nonce("user", "pencil", kRfcNonce);
  EXPECT_FALSE(c.verify_server_final(kRfcServerFinal).ok());  // before client-final
  ASSERT_TRUE(c.client_final_message(kRfcServerFirst).ok());
  auto e = c.verify_server_final("e=invalid-proof");
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.error().message, "invalid-proof")) << e.error().message;
  EXPECT_FALSE(c.verify_server_final("x=abc").ok());
  EXPECT_FALSE(c.verify_server_final("v=not base64!").ok());
  EXPECT_TRUE(c.verify_server_final(std::string(kRfcServerFinal) + ",ext=1").ok());
}

TEST(ScramSha256Client, PostgresStyleEmptyUserAndRngNonce) {
  SequenceRng rng(0);
  ScramSha256Client c("", "pencil", rng);
  std::string raw;
  for (int i = 0; i < 18; ++i) raw.push_back(static_cast<char>(i));
  const std::string nonce = base64_encode(raw);
  ASSERT_EQ(nonce.size(), 24u);
  EXPECT_EQ(c.client_first_message(), "n,,n=,r=" + nonce);
  auto f = c.client_final_message("r=" + nonce + "server,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_TRUE(starts_with(*f, "c=biws,r=" + nonce + "server,p=")) << *f;
}

TEST(ScramSha256Client, UserNameIsEscaped) {
  auto c = ScramSha256Client::with_nonce("a=b,c", "pw", "nonce");
  EXPECT_EQ(c.client_first_message(), "n,,n=a=3Db=2Cc,r=nonce");
}

TEST(ScramSha256Client, RejectsBadServerFirst) {
  struct Case {
    std::string server_first;
    std::string expect;
  };
  for (const auto& tc : std::vector<Case>{
           {"r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"},
           {"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"},  // not extended
           {"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", "iteration"},
           {"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=12x", "iteration"},
           {"r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096", "salt"},
           {"r=rOprNGfwEbeRWgbNEkqOx,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==", "'s='"},
           {"m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "mandatory extension"},
           {"r=rOprNGfwEbeRWgbNEkqOx", "malformed"},
       }) {
    auto c = ScramSha256Client::with_nonce("", "pencil", kRfcNonce);
    auto f = c.client_final_message(tc.server_first);
    ASSERT_FALSE(f.ok()) << tc.server_first;
    EXPECT_EQ(f.error().code, ErrorCode::kUnauthenticated);
    EXPECT_TRUE(contains(f.error().message, tc.expect)) << tc.server_first << ": " << f.error().message;
  }
}

TEST(ScramSha256Client, ChannelBindingUsesThePlusMechanism) {
  const std::string cert_hash(32, '\x5a');
  auto c = ScramSha256Client::with_nonce("", "pencil", kRfcNonce,
                                         ScramChannelBinding{"tls-server-end-point", cert_hash});
  EXPECT_EQ(c.mechanism(), "SCRAM-SHA-256-PLUS");
  EXPECT_EQ(c.client_first_message(), "p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO");
  auto f = c.client_final_message(kRfcServerFirst);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(starts_with(*f, "c=" + base64_encode("p=tls-server-end-point,," + cert_hash) + ",r=")) << *f;
}

}  // namespace
}  // namespace tp::pg
