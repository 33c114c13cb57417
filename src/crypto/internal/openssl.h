// Small RAII and conversion helpers over OpenSSL 3, shared by the crypto
// component's .cc files only (not part of the public API).
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace tp::crypto_internal {

template <auto FreeFn>
struct OpenSslFree {
  template <class T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree<EVP_MD_CTX_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslFree<X509_STORE_CTX_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpenSslFree<ASN1_OBJECT_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OpenSslFree<ASN1_STRING_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;

// An error whose message is `what` plus the reason OpenSSL queued, if any.
// Drains OpenSSL's thread-local error queue so later calls start clean.
Error openssl_error(ErrorCode code, const std::string& what);

// A read-only memory BIO over `data` (which must outlive the BIO).
BioPtr memory_bio(const std::string& data);
// Everything written to a memory BIO, as a string.
std::string bio_contents(BIO* bio);

// Parses one PEM certificate; the error says the input is not a certificate.
// Parsed certificates are cached and shared (reference-counted) between
// callers: treat the result as read-only.
Result<X509Ptr> load_cert_pem(const std::string& pem);
Result<std::string> cert_to_pem(X509* cert);
// Parses a SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
Result<EvpPkeyPtr> load_public_key_pem(const std::string& pem);

Result<TimePoint> asn1_time_to_timepoint(const ASN1_TIME* t);
// Whole seconds only: X.509 times carry no fractions, so sub-second parts are dropped.
Status set_asn1_time(ASN1_TIME* out, TimePoint t);

}  // namespace tp::crypto_internal
