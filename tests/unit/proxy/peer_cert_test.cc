#include "proxy/peer_cert.h"

#include <gtest/gtest.h>

#include "common/release.h"
#include "crypto/certs.h"
#include "crypto/keys.h"

namespace tp::proxy {
namespace {

class PeerCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto user = create_cert_authority(CaType::kUser, "c", clock_);
    auto host = create_cert_authority(CaType::kHost, "c", clock_);
    ASSERT_TRUE(user.ok() && host.ok());
    user_ca_ = *user;
    host_ca_ = *host;
  }

  std::string sign(const CertAuthority& ca, IdentityKind kind, std::vector<std::string> roles,
                   std::chrono::seconds ttl = std::chrono::hours(1)) {
    auto key = PrivateKey::generate();
    EXPECT_TRUE(key.ok());
    CertRequest req;
    req.public_key_pem = key->public_key_pem();
    req.identity.kind = kind;
    req.identity.username = kind == IdentityKind::kUser ? "alice" : "host-1";
    req.identity.roles = std::move(roles);
    req.identity.cluster_name = "c";
    req.identity.expires = clock_.now() + ttl;
    req.not_before = clock_.now() - std::chrono::minutes(1);
    auto cert = sign_certificate(ca, req);
    EXPECT_TRUE(cert.ok()) << cert.error().message;
    return *cert;
  }

  PeerCert verify(const std::string& pem) {
    return verify_peer_cert(pem, {user_ca_.cert_pem}, {host_ca_.cert_pem}, clock_.now());
  }

  FakeClock clock_{from_unix_seconds(1'800'000'000)};
  CertAuthority user_ca_, host_ca_;
};

TEST_F(PeerCertTest, NoCertificateAsksForTshLogin) {
  PeerCert p = verify("");
  EXPECT_FALSE(p.presented());
  auto user = require_user(p);
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(user.error().message.find("tsh login"), std::string::npos);
}

TEST_F(PeerCertTest, UserCertificateFromUserCa) {
  PeerCert p = verify(sign(user_ca_, IdentityKind::kUser, {"access"}));
  ASSERT_TRUE(p.identity.has_value()) << (p.error ? p.error->message : "");
  auto user = require_user(p);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->username, "alice");
  EXPECT_FALSE(require_host(p, kHostRoleDb).ok());
}

TEST_F(PeerCertTest, ExpiredCertificateSaysSo) {
  std::string pem = sign(user_ca_, IdentityKind::kUser, {"access"}, std::chrono::seconds(5));
  clock_.advance(std::chrono::seconds(10));
  PeerCert p = verify(pem);
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->code, ErrorCode::kExpired);
  auto user = require_user(p);
  ASSERT_FALSE(user.ok());
  EXPECT_NE(user.error().message.find("expired"), std::string::npos);
}

TEST_F(PeerCertTest, KindMustMatchItsCa) {
  // A "user" signed by the host CA and a "host" signed by the user CA are both refused.
  PeerCert fake_user = verify(sign(host_ca_, IdentityKind::kUser, {"access"}));
  EXPECT_FALSE(fake_user.identity.has_value());
  EXPECT_FALSE(require_user(fake_user).ok());
  PeerCert fake_host = verify(sign(user_ca_, IdentityKind::kHost, {kHostRoleDb}));
  EXPECT_FALSE(fake_host.identity.has_value());
  EXPECT_FALSE(require_host(fake_host, kHostRoleDb).ok());
}

TEST_F(PeerCertTest, HostRoleIsChecked) {
  PeerCert db = verify(sign(host_ca_, IdentityKind::kHost, {kHostRoleDb}));
  EXPECT_TRUE(require_host(db, kHostRoleDb).ok());
  EXPECT_FALSE(require_user(db).ok());
  PeerCert proxy = verify(sign(host_ca_, IdentityKind::kHost, {kHostRoleProxy}));
  EXPECT_FALSE(require_host(proxy, kHostRoleDb).ok());
}

TEST_F(PeerCertTest, GarbageIsNotATeleportCertificate) {
  PeerCert p = verify("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->code, ErrorCode::kUnauthenticated);
}

// A routed session keeps its PeerCert for as long as it relays; releasing it once the agent is
// dialled must give back the certificate's buffer and the identity's, not only empty them.
TEST_F(PeerCertTest, ReleaseGivesBackTheCertificateAndTheIdentity) {
  PeerCert p = verify(sign(user_ca_, IdentityKind::kUser, {"access", "db-readers"}));
  ASSERT_TRUE(p.identity.has_value());
  ASSERT_GT(p.pem.capacity(), 500u);
  release(p);
  const std::string empty;  // what a string with no buffer of its own can hold
  EXPECT_LE(p.pem.capacity(), empty.capacity()) << "the certificate's buffer is still held";
  EXPECT_FALSE(p.presented());
  EXPECT_FALSE(p.identity.has_value()) << "the identity (names, roles, traits) is still held";
}

}  // namespace
}  // namespace tp::proxy
