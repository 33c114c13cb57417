#include "proxy/peer_cert.h"

#include "crypto/certs.h"

namespace tp::proxy {

PeerCert verify_peer_cert(const std::string& pem, const std::vector<std::string>& user_ca_pems,
                          const std::vector<std::string>& host_ca_pems, TimePoint now) {
  PeerCert out;
  out.pem = pem;
  if (pem.empty()) return out;
  // Read the claimed kind first (unverified) only to pick which CA must have signed it.
  auto claimed = identity_from_cert_pem(pem);
  if (!claimed.ok()) {
    out.error = unauthenticated("the client certificate is not a Teleport certificate (" + claimed.error().message +
                                "); run 'tsh login' and 'tsh db login'");
    return out;
  }
  const bool host = claimed->kind == IdentityKind::kHost;
  auto verified = verify_cert(pem, host ? host_ca_pems : user_ca_pems, now);
  if (!verified.ok()) {
    out.error = verified.error();
    if (out.error->code != ErrorCode::kExpired)
      out.error = unauthenticated("the client certificate was not issued by this cluster's " +
                                  std::string(host ? "host" : "user") + " CA (" + verified.error().message +
                                  "); run 'tsh login' against this proxy");
    return out;
  }
  out.identity = std::move(*verified);
  return out;
}

Result<Identity> require_user(const PeerCert& peer) {
  if (peer.error) return *peer.error;
  if (!peer.identity)
    return unauthenticated("no client certificate: log in with 'tsh login --proxy=<proxy> --user=<user>', then "
                           "'tsh db login <database>' and connect with the certificate it writes (see 'tsh db config')");
  if (peer.identity->kind != IdentityKind::kUser)
    return access_denied("this is a host certificate (" + peer.identity->username +
                         "); connect with a user certificate from 'tsh login'");
  return *peer.identity;
}

Result<Identity> require_host(const PeerCert& peer, const std::string& host_role) {
  if (peer.error) return *peer.error;
  if (!peer.identity) return unauthenticated("no client certificate: agents present their host certificate");
  if (!peer.identity->is_host_role(host_role))
    return access_denied("certificate of " + peer.identity->username + " is not a " + host_role +
                         " host certificate");
  return *peer.identity;
}

}  // namespace tp::proxy
