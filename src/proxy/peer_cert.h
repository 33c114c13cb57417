// The identity behind a client certificate on a proxy connection. The proxy's TLS contexts accept
// any certificate during the handshake and verify it here afterwards, so an expired or foreign
// certificate becomes a message the client displays ("certificate expired at ...; run 'tsh login'")
// instead of a bare TLS alert.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/identity.h"

namespace tp::proxy {

struct PeerCert {
  std::string pem;                  // "" when the client sent no certificate
  std::optional<Identity> identity;  // set when it verified
  std::optional<Error> error;        // why it did not verify

  bool presented() const { return !pem.empty(); }
};

// Verifies against the CA that must have signed this kind of identity: user certificates (and
// database certificates) against the user CA, host certificates against the host CA, so a
// certificate never passes for a kind its CA does not issue.
PeerCert verify_peer_cert(const std::string& pem, const std::vector<std::string>& user_ca_pems,
                          const std::vector<std::string>& host_ca_pems, TimePoint now);

// The verified user identity, or an error that tells the user what to run.
Result<Identity> require_user(const PeerCert& peer);
// A verified host identity with exactly this host role (e.g. kHostRoleDb for reverse tunnels).
Result<Identity> require_host(const PeerCert& peer, const std::string& host_role);

}  // namespace tp::proxy
