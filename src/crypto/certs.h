// Certificate authorities and the certificates they sign (DESIGN section 3).
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/identity.h"
#include "crypto/keys.h"

namespace tp {

enum class CaType { kUser, kHost, kDb };
const char* ca_type_name(CaType t);  // "user", "host", "db"

struct CertAuthority {
  CaType type = CaType::kUser;
  std::string cluster_name;
  std::string key_pem;   // private key, PKCS#8 PEM
  std::string cert_pem;  // self-signed CA certificate
};

// A new self-signed CA (10 year validity), subject O=<cluster>, CN=<cluster> <type> CA.
Result<CertAuthority> create_cert_authority(CaType type, const std::string& cluster_name, const Clock& clock);

struct CertRequest {
  std::string public_key_pem;           // subject's public key (SPKI PEM)
  Identity identity;                    // encoded into subject + extensions; identity.expires = notAfter
  TimePoint not_before{};               // usually now - 1 min for clock skew
  std::vector<std::string> dns_names;   // SANs (host certs, db server certs)
  std::vector<std::string> ip_addresses;
  bool is_server = false;               // adds serverAuth EKU (always clientAuth)
};

// Signs a leaf certificate; returns PEM.
Result<std::string> sign_certificate(const CertAuthority& ca, const CertRequest& req);

// Decodes the identity from a leaf certificate (PEM), without verifying it.
Result<Identity> identity_from_cert_pem(const std::string& cert_pem);

// Verifies cert_pem chains to one of ca_cert_pems and is valid at `now`; returns its identity.
Result<Identity> verify_cert(const std::string& cert_pem, const std::vector<std::string>& ca_cert_pems,
                             TimePoint now);

// "sha256:<hex of SHA-256 of the certificate's DER SubjectPublicKeyInfo>"
Result<std::string> ca_pin(const std::string& cert_pem);

// The certificate's notAfter.
Result<TimePoint> cert_expiry(const std::string& cert_pem);

// True when the certificate has no subjectAltName (legacy Common Name only), as
// RDS certificates created before 28 July 2020 do.
Result<bool> cert_lacks_san(const std::string& cert_pem);

}  // namespace tp
