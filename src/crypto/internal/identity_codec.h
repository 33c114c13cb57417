// Identity <-> X.509 certificate encoding (DESIGN section 3). Internal to the
// crypto component; callers use sign_certificate / identity_from_cert_pem.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/identity.h"

typedef struct x509_st X509;

namespace tp::crypto_internal {

// The identity travels in one non-critical private extension under this OID
// (arc 1.3.9999 is unassigned, so it cannot collide with a registered
// extension; "1" = teleport-db-access, "1" = identity, version 1). Its
// extnValue is the DER of an ASN.1 UTF8String holding the compact JSON from
// identity_to_json. Changing the JSON shape incompatibly needs a new OID.
inline constexpr const char* kIdentityExtensionOid = "1.3.9999.1.1";

// Compact JSON of every field except `expires`, which the certificate's
// notAfter carries:
//   {"kind":"user","username":"alice","roles":["access"],
//    "traits":{"db_users":["alice"]},
//    "route":{"service_name":"pg","protocol":"postgres","username":"alice","database":"app"},
//    "cluster_name":"example.com"}
// "route" is absent when the identity has none. Fails on text that is not UTF-8.
Result<std::string> identity_to_json(const Identity& id);
// The inverse; unknown keys are ignored (newer writers), wrong types are errors.
Result<Identity> identity_from_json(std::string_view json);

// Adds the identity extension to `cert` (subject and validity are set elsewhere).
Status add_identity_extension(X509* cert, const Identity& id);
// Reads the identity extension, and sets `expires` from notAfter.
Result<Identity> read_identity_extension(const X509* cert);

}  // namespace tp::crypto_internal
