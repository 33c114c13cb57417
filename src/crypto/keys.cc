#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstring>

#include "crypto/internal/openssl.h"

namespace tp {

using namespace crypto_internal;

void PrivateKey::Free::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

namespace {

// The cluster issues ECDSA P-256 keys only (DESIGN section 3); OpenSSL calls
// the curve by its X9.62 name.
constexpr const char* kCurveName = "prime256v1";

Status check_p256(EVP_PKEY* key, const char* what) {
  char group[64] = {};
  size_t len = 0;
  if (!EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
      std::strcmp(group, kCurveName) != 0) {
    return invalid_argument(std::string(what) + " is not an ECDSA P-256 key; only P-256 keys are supported");
  }
  return {};
}

}  // namespace

Result<PrivateKey> PrivateKey::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kCurveName);
  if (raw == nullptr) return openssl_error(ErrorCode::kInternal, "generating an ECDSA P-256 key");
  PrivateKey k;
  k.key_.reset(raw, Free{});
  return k;
}

Result<PrivateKey> PrivateKey::from_pem(const std::string& pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_error(ErrorCode::kInternal, "allocating a memory buffer");
  // Accepts PKCS#8 ("PRIVATE KEY") and the older SEC1 form ("EC PRIVATE KEY").
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return openssl_error(ErrorCode::kInvalidArgument,
                         "reading private key: input is not an unencrypted PEM private key");
  }
  PrivateKey k;
  k.key_.reset(raw, Free{});
  TP_CHECK(check_p256(raw, "private key"));
  return k;
}

std::string PrivateKey::to_pem() const {
  if (!key_) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 in OpenSSL 3.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  return bio_contents(bio.get());
}

std::string PrivateKey::public_key_pem() const {
  if (!key_) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return {};
  return bio_contents(bio.get());
}

Result<std::string> sign_sha256(const PrivateKey& key, const std::string& data) {
  if (key.get() == nullptr) return invalid_argument("signing: no private key loaded");
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return openssl_error(ErrorCode::kInternal, "starting an ECDSA-SHA256 signature");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return openssl_error(ErrorCode::kInternal, "sizing an ECDSA-SHA256 signature");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) != 1) {
    return openssl_error(ErrorCode::kInternal, "computing an ECDSA-SHA256 signature");
  }
  sig.resize(len);  // DER ECDSA signatures vary in length
  return sig;
}

Status verify_sha256(const std::string& public_key_pem, const std::string& data, const std::string& signature) {
  TP_TRY(EvpPkeyPtr key, load_public_key_pem(public_key_pem));
  TP_CHECK(check_p256(key.get(), "public key"));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return openssl_error(ErrorCode::kInternal, "starting an ECDSA-SHA256 verification");
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
  if (rc != 1) {
    // 0 = wrong signature, <0 = malformed one; either way the data is not proven.
    ERR_clear_error();
    return unauthenticated("signature does not match the data and public key");
  }
  return {};
}

}  // namespace tp
