#include "crypto/internal/openssl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <ctime>
#include <memory>

#include "common/lru_cache.h"

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

namespace {

// The same few certificates are parsed again and again: every connection's
// client certificate (a user's lasts for hours) and the CAs. OpenSSL 3 decodes
// a certificate's public key through its provider machinery, which costs more
// than verifying the signature, so parsed certificates are shared by PEM.
using ParsedCertCache = LruCache<std::string, std::shared_ptr<X509>>;

ParsedCertCache& parsed_certs() {
  static auto* cache = new ParsedCertCache(512);  // a few KiB each; never destroyed: used until exit
  return *cache;
}

}  // namespace

Result<X509Ptr> load_cert_pem(const std::string& pem) {
  if (auto cached = parsed_certs().find(pem)) {
    X509_up_ref(cached->get());
    return X509Ptr(cached->get());
  }
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_error(ErrorCode::kInternal, "allocating a memory buffer");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return openssl_error(ErrorCode::kInvalidArgument,
                         "reading certificate: input is not a PEM \"CERTIFICATE\" block");
  }
  X509_up_ref(cert.get());
  parsed_certs().put(pem, std::shared_ptr<X509>(cert.get(), X509_free));
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
