// Certificates for tests: throwaway host, user and server certificates signed
// by fresh cluster CAs (crypto/certs.h), so TLS tests run the real handshakes.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "crypto/certs.h"
#include "crypto/keys.h"

namespace tp::testing {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

class TestPki {
 public:
  TestPki() {
    host_ca = must(create_cert_authority(CaType::kHost, "test.cluster", system_clock()));
    user_ca = must(create_cert_authority(CaType::kUser, "test.cluster", system_clock()));
  }

  KeyPair host_cert(const std::string& host_id, const std::string& role,
                    std::chrono::seconds ttl = std::chrono::hours(1)) const {
    Identity id;
    id.kind = IdentityKind::kHost;
    id.username = host_id;
    id.roles = {role};
    id.cluster_name = "test.cluster";
    id.expires = system_clock().now() + ttl;
    return sign(host_ca, id, {host_id, "localhost"}, {"127.0.0.1"}, true);
  }

  // A user's database certificate; identity.expires is the certificate's notAfter.
  KeyPair user_cert(Identity id) const {
    id.kind = IdentityKind::kUser;
    id.cluster_name = "test.cluster";
    return sign(user_ca, id, {}, {}, false);
  }

  // A database server's certificate (SAN 127.0.0.1 and localhost) from `ca`.
  static KeyPair server_cert(const CertAuthority& ca) {
    Identity id;
    id.kind = IdentityKind::kHost;
    id.username = "db-server";
    id.roles = {"Db"};
    id.expires = system_clock().now() + std::chrono::hours(1);
    return sign(ca, id, {"localhost"}, {"127.0.0.1"}, true);
  }

  CertAuthority host_ca;
  CertAuthority user_ca;

 private:
  template <class T>
  static T must(Result<T> r) {
    if (!r.ok()) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }

  static KeyPair sign(const CertAuthority& ca, const Identity& id, std::vector<std::string> dns,
                      std::vector<std::string> ips, bool server) {
    auto key = must(PrivateKey::generate());
    CertRequest req;
    req.public_key_pem = key.public_key_pem();
    req.identity = id;
    req.not_before = system_clock().now() - std::chrono::minutes(1);
    req.dns_names = std::move(dns);
    req.ip_addresses = std::move(ips);
    req.is_server = server;
    return {must(sign_certificate(ca, req)), key.to_pem()};
  }
};

}  // namespace tp::testing
