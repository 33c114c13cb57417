#include "crypto/certs.h"

#include <openssl/bn.h>
#include <openssl/err.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

#include "common/lru_cache.h"
#include "common/strings.h"
#include "crypto/internal/identity_codec.h"
#include "crypto/internal/openssl.h"

namespace tp {

using namespace crypto_internal;

const char* ca_type_name(CaType t) {
  switch (t) {
    case CaType::kUser: return "user";
    case CaType::kHost: return "host";
    case CaType::kDb: return "db";
  }
  return "unknown";
}

namespace {

using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslFree<X509_NAME_free>>;

constexpr auto kCaValidity = std::chrono::years(10);
constexpr auto kCaBackdate = std::chrono::minutes(1);  // tolerate clock skew between hosts
// X.520 ub-common-name / ub-organization-name (RFC 5280 appendix A.1).
constexpr size_t kMaxNameLength = 64;

// A random, positive 128-bit serial (RFC 5280 section 4.1.2.2 allows up to 20 octets).
Status set_random_serial(X509* cert) {
  BignumPtr bn(BN_new());
  if (!bn || BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return openssl_error(ErrorCode::kInternal, "generating a certificate serial number");
  }
  return {};
}

// Cuts at a UTF-8 character boundary; the identity extension keeps the full
// text, the subject is for people reading the certificate.
std::string fit_name(const std::string& s) {
  if (s.size() <= kMaxNameLength) return s;
  size_t n = kMaxNameLength;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

Status add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  if (value.empty()) return {};
  std::string v = fit_name(value);
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(v.data()),
                                 static_cast<int>(v.size()), -1, 0) != 1) {
    return openssl_error(ErrorCode::kInvalidArgument,
                         std::string("certificate subject ") + field + "=\"" + value + "\" is not valid");
  }
  return {};
}

// One extension from its OpenSSL config text (e.g. "critical,CA:TRUE");
// `issuer` and `subject` feed the key identifier extensions.
Status add_config_extension(X509* issuer, X509* subject, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(subject, ext.get(), -1) != 1) {
    return openssl_error(ErrorCode::kInternal, std::string("adding certificate extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

// subjectAltName built from typed values (not config text, so a name holding
// "," or ":" cannot inject other entries).
Status add_subject_alt_names(X509* cert, const CertRequest& req) {
  if (req.dns_names.empty() && req.ip_addresses.empty()) return {};
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return openssl_error(ErrorCode::kInternal, "allocating subjectAltName");
  for (const auto& dns : req.dns_names) {
    if (dns.empty()) return invalid_argument("certificate DNS name is empty");
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (gn == nullptr || s == nullptr || ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(s);
      return openssl_error(ErrorCode::kInternal, "encoding DNS name " + dns);
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, s);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  for (const auto& ip : req.ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());  // IPv4 or IPv6 text
    if (octets == nullptr) {
      ERR_clear_error();
      return invalid_argument("certificate IP address \"" + ip + "\" is not an IPv4 or IPv6 address");
    }
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) {
      ASN1_OCTET_STRING_free(octets);
      return openssl_error(ErrorCode::kInternal, "allocating subjectAltName");
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, octets);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error(ErrorCode::kInternal, "adding subjectAltName");
  }
  return {};
}

Status sign_with(X509* cert, const PrivateKey& key) {
  if (X509_sign(cert, key.get(), EVP_sha256()) <= 0) {
    return openssl_error(ErrorCode::kInternal, "signing certificate");
  }
  return {};
}

}  // namespace

Result<CertAuthority> create_cert_authority(CaType type, const std::string& cluster_name, const Clock& clock) {
  if (cluster_name.empty()) return invalid_argument("creating a certificate authority: cluster name is empty");
  TP_TRY(PrivateKey key, PrivateKey::generate());

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_error(ErrorCode::kInternal, "allocating CA certificate");
  }
  TP_CHECK(set_random_serial(cert.get()));
  TimePoint not_before = clock.now() - kCaBackdate;
  TP_CHECK(set_asn1_time(X509_getm_notBefore(cert.get()), not_before));
  TP_CHECK(set_asn1_time(X509_getm_notAfter(cert.get()),
                         not_before + std::chrono::duration_cast<TimePoint::duration>(kCaValidity)));

  X509_NAME* name = X509_get_subject_name(cert.get());
  TP_CHECK(add_name_entry(name, "O", cluster_name));
  TP_CHECK(add_name_entry(name, "CN", cluster_name + " " + ca_type_name(type) + " CA"));
  if (X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1) {
    return openssl_error(ErrorCode::kInternal, "filling CA certificate");
  }
  TP_CHECK(add_config_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  TP_CHECK(add_config_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  TP_CHECK(add_config_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  TP_CHECK(sign_with(cert.get(), key));

  CertAuthority ca;
  ca.type = type;
  ca.cluster_name = cluster_name;
  ca.key_pem = key.to_pem();
  TP_TRY(ca.cert_pem, cert_to_pem(cert.get()));
  if (ca.key_pem.empty()) return openssl_error(ErrorCode::kInternal, "writing CA key PEM");
  return ca;
}

Result<std::string> sign_certificate(const CertAuthority& ca, const CertRequest& req) {
  const Identity& id = req.identity;
  if (id.username.empty()) return invalid_argument("signing certificate: identity has no username");
  if (id.expires <= req.not_before) {
    return invalid_argument("signing certificate for " + id.username + ": expiry " + format_rfc3339(id.expires) +
                            " is not after the start of validity " + format_rfc3339(req.not_before));
  }
  auto ca_key = PrivateKey::from_pem(ca.key_pem);
  if (!ca_key.ok()) return ca_key.error().wrap("loading CA key");
  auto ca_cert = load_cert_pem(ca.cert_pem);
  if (!ca_cert.ok()) return ca_cert.error().wrap("loading CA certificate");
  auto subject_key = load_public_key_pem(req.public_key_pem);
  if (!subject_key.ok()) return subject_key.error().wrap("signing certificate for " + id.username);

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_error(ErrorCode::kInternal, "allocating certificate");
  }
  TP_CHECK(set_random_serial(cert.get()));
  TP_CHECK(set_asn1_time(X509_getm_notBefore(cert.get()), req.not_before));
  TP_CHECK(set_asn1_time(X509_getm_notAfter(cert.get()), id.expires));

  X509_NAME* name = X509_get_subject_name(cert.get());
  TP_CHECK(add_name_entry(name, "O", id.roles.empty() ? std::string() : id.roles.front()));
  TP_CHECK(add_name_entry(name, "CN", id.username));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert->get())) != 1 ||
      X509_set_pubkey(cert.get(), subject_key->get()) != 1) {
    return openssl_error(ErrorCode::kInternal, "filling certificate");
  }

  X509* issuer = ca_cert->get();
  TP_CHECK(add_config_extension(issuer, cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  // ECDSA keys sign (TLS 1.3 and ECDHE); keyEncipherment is for RSA key transport only.
  TP_CHECK(add_config_extension(issuer, cert.get(), NID_key_usage, "critical,digitalSignature"));
  TP_CHECK(add_config_extension(issuer, cert.get(), NID_ext_key_usage,
                                req.is_server ? "clientAuth,serverAuth" : "clientAuth"));
  TP_CHECK(add_config_extension(issuer, cert.get(), NID_subject_key_identifier, "hash"));
  TP_CHECK(add_config_extension(issuer, cert.get(), NID_authority_key_identifier, "keyid:always"));
  TP_CHECK(add_subject_alt_names(cert.get(), req));
  TP_CHECK(add_identity_extension(cert.get(), id));
  TP_CHECK(sign_with(cert.get(), *ca_key));
  return cert_to_pem(cert.get());
}

Result<Identity> identity_from_cert_pem(const std::string& cert_pem) {
  TP_TRY(X509Ptr cert, load_cert_pem(cert_pem));
  return read_identity_extension(cert.get());
}

namespace {

// Maps X509_verify_cert's reason to what a user can act on.
Error verify_failure(X509_STORE_CTX* ctx) {
  int err = X509_STORE_CTX_get_error(ctx);
  X509* failing = X509_STORE_CTX_get_current_cert(ctx);
  bool leaf = X509_STORE_CTX_get_error_depth(ctx) == 0;
  auto when = [&](const ASN1_TIME* t) {
    auto tp = asn1_time_to_timepoint(t);
    return tp.ok() ? format_rfc3339(*tp) : std::string("an unreadable time");
  };
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      if (!leaf) {
        return expired("the cluster's certificate authority expired at " + when(X509_get0_notAfter(failing)) +
                       "; rotate the certificate authority");
      }
      return expired("certificate expired at " + when(X509_get0_notAfter(failing)) +
                     "; run 'tsh login' to get a new one");
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return unauthenticated(std::string(leaf ? "certificate" : "the cluster's certificate authority") +
                             " is not valid until " + when(X509_get0_notBefore(failing)) +
                             "; check this host's clock");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return unauthenticated("certificate is not signed by this cluster's CA");
    default:
      return unauthenticated(std::string("certificate verification failed: ") +
                             X509_verify_cert_error_string(err));
  }
}

// What one successful chain check established: under these CAs, this
// certificate names this identity for as long as every certificate of the
// chain is valid. Nothing else in the check depends on the time, so the same
// certificate under the same CAs needs only the clock compared again.
struct VerifiedCert {
  std::vector<std::string> ca_cert_pems;
  Identity identity;
  int64_t valid_from = 0;   // Unix seconds: the chain's latest notBefore
  int64_t valid_until = 0;  // its earliest notAfter (valid before, not at)

  bool holds(const std::vector<std::string>& cas, int64_t now) const {
    return valid_from <= now && now < valid_until && ca_cert_pems == cas;
  }
};

// A user connects again and again with the certificate 'tsh db login' wrote
// (for hours), and each connection is checked by the proxy and by the agent;
// the chain check was the largest item of either's own work per connection.
using VerifiedCertCache = LruCache<std::string, std::shared_ptr<const VerifiedCert>>;

VerifiedCertCache& verified_certs() {
  static auto* cache = new VerifiedCertCache(1024);  // never destroyed: used until exit
  return *cache;
}

// The window in which every certificate of a verified chain is valid.
Result<std::pair<int64_t, int64_t>> chain_validity(X509_STORE_CTX* ctx) {
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  if (chain == nullptr || sk_X509_num(chain) == 0) return internal_error("verified certificate has no chain");
  int64_t from = std::numeric_limits<int64_t>::min();
  int64_t until = std::numeric_limits<int64_t>::max();
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    TP_TRY(TimePoint not_before, asn1_time_to_timepoint(X509_get0_notBefore(cert)));
    TP_TRY(TimePoint not_after, asn1_time_to_timepoint(X509_get0_notAfter(cert)));
    from = std::max(from, to_unix_seconds(not_before));
    until = std::min(until, to_unix_seconds(not_after));
  }
  return std::pair{from, until};
}

}  // namespace

Result<Identity> verify_cert(const std::string& cert_pem, const std::vector<std::string>& ca_cert_pems,
                             TimePoint now) {
  if (ca_cert_pems.empty()) return invalid_argument("verifying certificate: no CA certificates to trust");
  const int64_t now_seconds = to_unix_seconds(now);
  if (auto known = verified_certs().find(cert_pem); known && (*known)->holds(ca_cert_pems, now_seconds))
    return (*known)->identity;
  TP_TRY(X509Ptr cert, load_cert_pem(cert_pem));
  // The CA certificates come from load_cert_pem's cache of parsed certificates:
  // the store itself is cheap to build.
  X509StorePtr store(X509_STORE_new());
  if (!store) return openssl_error(ErrorCode::kInternal, "allocating certificate store");
  for (const auto& pem : ca_cert_pems) {
    auto ca = load_cert_pem(pem);
    if (!ca.ok()) return ca.error().wrap("loading CA certificate");
    if (X509_STORE_add_cert(store.get(), ca->get()) != 1) {  // takes its own reference
      return openssl_error(ErrorCode::kInternal, "adding CA certificate to store");
    }
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return openssl_error(ErrorCode::kInternal, "preparing certificate verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now_seconds));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);
  if (X509_verify_cert(ctx.get()) != 1) {
    Error e = verify_failure(ctx.get());
    ERR_clear_error();
    return e;
  }
  TP_TRY(Identity identity, read_identity_extension(cert.get()));
  TP_TRY(auto validity, chain_validity(ctx.get()));
  verified_certs().put(cert_pem, std::make_shared<const VerifiedCert>(
                                     VerifiedCert{ca_cert_pems, identity, validity.first, validity.second}));
  return identity;
}

Result<std::string> ca_pin(const std::string& cert_pem) {
  TP_TRY(X509Ptr cert, load_cert_pem(cert_pem));
  // DER of SubjectPublicKeyInfo, the same bytes Teleport's CA pin hashes.
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &der);
  if (len <= 0) return openssl_error(ErrorCode::kInvalidArgument, "certificate has no readable public key");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  int ok = EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return openssl_error(ErrorCode::kInternal, "hashing public key");
  return "sha256:" + to_hex(digest, digest_len);
}

Result<TimePoint> cert_expiry(const std::string& cert_pem) {
  TP_TRY(X509Ptr cert, load_cert_pem(cert_pem));
  return asn1_time_to_timepoint(X509_get0_notAfter(cert.get()));
}

Result<bool> cert_lacks_san(const std::string& cert_pem) {
  TP_TRY(X509Ptr cert, load_cert_pem(cert_pem));
  return X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1) < 0;
}

}  // namespace tp
