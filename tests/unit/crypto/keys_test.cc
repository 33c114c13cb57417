#include "crypto/keys.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/strings.h"
#include "crypto/internal/openssl.h"

namespace tp {
namespace {

TEST(PrivateKey, PemRoundTripKeepsTheKey) {
  auto key = PrivateKey::generate();
  ASSERT_TRUE(key.ok()) << key.error().message;
  std::string pem = key->to_pem();
  EXPECT_TRUE(starts_with(pem, "-----BEGIN PRIVATE KEY-----\n")) << pem;  // PKCS#8, not SEC1
  EXPECT_TRUE(starts_with(key->public_key_pem(), "-----BEGIN PUBLIC KEY-----\n"));

  auto loaded = PrivateKey::from_pem(pem);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->public_key_pem(), key->public_key_pem());
  EXPECT_EQ(loaded->to_pem(), pem);
}

TEST(PrivateKey, GeneratesDistinctKeys) {
  auto a = PrivateKey::generate();
  auto b = PrivateKey::generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_key_pem(), b->public_key_pem());
}

TEST(PrivateKey, RejectsGarbageAndOtherCurves) {
  auto bad = PrivateKey::from_pem("not a key");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);

  // A P-384 key is a valid EC key but not one the cluster issues.
  crypto_internal::EvpPkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp384r1"));
  ASSERT_TRUE(p384);
  crypto_internal::BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), p384.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  auto other = PrivateKey::from_pem(crypto_internal::bio_contents(bio.get()));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("P-256"), std::string::npos) << other.error().message;
  EXPECT_EQ(ERR_peek_error(), 0ul);  // failures drain OpenSSL's error queue
}

TEST(Signature, VerifiesOnlyTheSignedDataWithTheRightKey) {
  auto key = PrivateKey::generate();
  auto other = PrivateKey::generate();
  ASSERT_TRUE(key.ok() && other.ok());
  auto sig = sign_sha256(*key, "join token 1234");
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_GE(sig->size(), 8u);

  EXPECT_TRUE(verify_sha256(key->public_key_pem(), "join token 1234", *sig).ok());

  Status wrong_data = verify_sha256(key->public_key_pem(), "join token 1235", *sig);
  ASSERT_FALSE(wrong_data.ok());
  EXPECT_EQ(wrong_data.error().code, ErrorCode::kUnauthenticated);
  EXPECT_FALSE(verify_sha256(other->public_key_pem(), "join token 1234", *sig).ok());
  std::string tampered = *sig;
  tampered[tampered.size() / 2] ^= 0x01;
  EXPECT_FALSE(verify_sha256(key->public_key_pem(), "join token 1234", tampered).ok());
  EXPECT_FALSE(verify_sha256(key->public_key_pem(), "join token 1234", "").ok());

  Status bad_key = verify_sha256("not a key", "x", *sig);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

}  // namespace
}  // namespace tp
