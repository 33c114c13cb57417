#include "crypto/internal/openssl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <ctime>

namespace tp::crypto_internal {

Error openssl_error(ErrorCode code, const std::string& what) {
  std::string reason;
  // The last queued error is the most specific one; keep it, drop the rest.
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    reason = buf;
  }
  if (reason.empty()) return Error{code, what};
  return Error{code, what + " (" + reason + ")"};
}

BioPtr memory_bio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

Result<X509Ptr> load_cert_pem(const std::string& pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_error(ErrorCode::kInternal, "allocating a memory buffer");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return openssl_error(ErrorCode::kInvalidArgument,
                         "reading certificate: input is not a PEM \"CERTIFICATE\" block");
  }
  return cert;
}

Result<std::string> cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return openssl_error(ErrorCode::kInternal, "writing certificate PEM");
  }
  return bio_contents(bio.get());
}

Result<EvpPkeyPtr> load_public_key_pem(const std::string& pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_error(ErrorCode::kInternal, "allocating a memory buffer");
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return openssl_error(ErrorCode::kInvalidArgument,
                         "reading public key: input is not a PEM \"PUBLIC KEY\" block");
  }
  return key;
}

Result<TimePoint> asn1_time_to_timepoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return openssl_error(ErrorCode::kInvalidArgument, "certificate has a malformed validity time");
  }
  return from_unix_seconds(static_cast<int64_t>(timegm(&tm)));
}

Status set_asn1_time(ASN1_TIME* out, TimePoint t) {
  if (ASN1_TIME_set(out, static_cast<time_t>(to_unix_seconds(t))) == nullptr) {
    return openssl_error(ErrorCode::kInvalidArgument,
                         "time " + format_rfc3339(t) + " cannot be written into a certificate");
  }
  return {};
}

}  // namespace tp::crypto_internal
