#include "crypto/certs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include <unistd.h>

#include "common/strings.h"
#include "crypto/internal/identity_codec.h"
#include "crypto/internal/openssl.h"

namespace tp {
namespace {

using crypto_internal::load_cert_pem;
using crypto_internal::X509Ptr;

const TimePoint kNow = from_unix_seconds(1'700'000'000);  // 2023-11-14T22:13:20Z

// Made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
// -subj /CN=legacy-rds-example -days 36500`: Common Name only, no subjectAltName.
// Its pin came from `openssl x509 -pubkey -noout | openssl pkey -pubin
// -outform der | sha256sum`.
constexpr const char* kLegacyCertPem = R"(-----BEGIN CERTIFICATE-----
MIIBjTCCATSgAwIBAgIUY9SzTLwcW1nLZgveknks0YAurDYwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSbGVnYWN5LXJkcy1leGFtcGxlMCAXDTI2MTEyNTE2NDcxNloY
DzIxMjYxMTAxMTY0NzE2WjAdMRswGQYDVQQDDBJsZWdhY3ktcmRzLWV4YW1wbGUw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT8Li2EJu9K0pv1hYG4rUxs1jnzKcDL
BDT4xNlXsFhn2dkYMJbH+Dw/MLJB5MarPjly91gmyqiH7hY/SdEQ3AB0o1AwTjAd
BgNVHQ4EFgQUCT4Zvq8C4JiDdXitAcOmxR32Fw0wHwYDVR0jBBgwFoAUCT4Zvq8C
4JiDdXitAcOmxR32Fw0wDAYDVR0TAQH/BAIwADAKBggqhkjOPQQDAgNHADBEAiAc
vvlwMzPSI/Yf5ahFLHS4ZVMfFxR/s4NUSzVnuJIn/AIgNqQDKW7tIiIK+KdWcD8q
fUvUfv5L2M+nUo95xop2AQc=
-----END CERTIFICATE-----
)";
constexpr const char* kLegacyCertPin = "sha256:424a3e32804fdeef360077078ccbcc78f25e6e6b168b786e4f98998af5e87159";

std::string name_field(X509_NAME* name, int nid) {
  char buf[256] = {};
  int n = X509_NAME_get_text_by_NID(name, nid, buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<size_t>(n));
}

Identity alice_db_identity() {
  Identity id;
  id.kind = IdentityKind::kUser;
  id.username = "alice@example.com";
  id.roles = {"access", "editor"};
  id.traits = {{"db_users", {"alice", "readonly", "app_rw"}}, {"db_names", {"*"}}, {"empty", {}}};
  id.route = DatabaseRoute{"rds-example", "postgres", "alice", "orders"};
  id.cluster_name = "example.com";
  id.expires = kNow + std::chrono::hours(12);
  return id;
}

class CertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = create_cert_authority(CaType::kUser, "example.com", clock_);
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = *ca;
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key.ok());
    subject_key_pem_ = key->public_key_pem();
  }

  // Every call, failed or not, must leave OpenSSL's thread-local error queue
  // empty, or a later TLS read on this thread misreads SSL_get_error.
  void TearDown() override { EXPECT_EQ(ERR_peek_error(), 0ul); }

  CertRequest request(Identity id) const {
    CertRequest req;
    req.public_key_pem = subject_key_pem_;
    req.identity = std::move(id);
    req.not_before = kNow - std::chrono::minutes(1);
    return req;
  }

  std::string sign(const CertRequest& req) const {
    auto pem = sign_certificate(ca_, req);
    EXPECT_TRUE(pem.ok()) << pem.error().message;
    return pem.ok() ? *pem : std::string();
  }

  FakeClock clock_{kNow};
  CertAuthority ca_;
  std::string subject_key_pem_;
};

TEST_F(CertsTest, CaIsSelfSignedWithCaConstraints) {
  EXPECT_EQ(ca_.type, CaType::kUser);
  EXPECT_EQ(ca_.cluster_name, "example.com");
  EXPECT_TRUE(PrivateKey::from_pem(ca_.key_pem).ok());

  auto cert = load_cert_pem(ca_.cert_pem);
  ASSERT_TRUE(cert.ok());
  X509* x = cert->get();
  EXPECT_EQ(name_field(X509_get_subject_name(x), NID_organizationName), "example.com");
  EXPECT_EQ(name_field(X509_get_subject_name(x), NID_commonName), "example.com user CA");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
  EXPECT_EQ(X509_check_ca(x), 1);
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(x, NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(crit, 1);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(X509_get_key_usage(x), uint32_t(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  // 128 random bits: at least 15 octets unless astronomically unlucky.
  EXPECT_GE(ASN1_STRING_length(X509_get0_serialNumber(x)), 15);

  auto not_before = crypto_internal::asn1_time_to_timepoint(X509_get0_notBefore(x));
  ASSERT_TRUE(not_before.ok());
  EXPECT_EQ(*not_before, kNow - std::chrono::minutes(1));
  auto not_after = cert_expiry(ca_.cert_pem);
  ASSERT_TRUE(not_after.ok());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::hours>(*not_after - *not_before).count(), 87658);  // 10 y

  EXPECT_FALSE(identity_from_cert_pem(ca_.cert_pem).ok());
}

TEST_F(CertsTest, CaNamesItsType) {
  for (CaType t : {CaType::kHost, CaType::kDb}) {
    auto ca = create_cert_authority(t, "example.com", clock_);
    ASSERT_TRUE(ca.ok());
    auto cert = load_cert_pem(ca->cert_pem);
    ASSERT_TRUE(cert.ok());
    EXPECT_EQ(name_field(X509_get_subject_name(cert->get()), NID_commonName),
              std::string("example.com ") + ca_type_name(t) + " CA");
  }
  EXPECT_FALSE(create_cert_authority(CaType::kUser, "", clock_).ok());
}

TEST_F(CertsTest, LeafCarriesSubjectUsagesAndIdentity) {
  std::string pem = sign(request(alice_db_identity()));
  auto cert = load_cert_pem(pem);
  ASSERT_TRUE(cert.ok());
  X509* x = cert->get();
  EXPECT_EQ(name_field(X509_get_subject_name(x), NID_commonName), "alice@example.com");
  EXPECT_EQ(name_field(X509_get_subject_name(x), NID_organizationName), "access");
  EXPECT_EQ(name_field(X509_get_issuer_name(x), NID_commonName), "example.com user CA");
  EXPECT_EQ(X509_check_ca(x), 0);
  EXPECT_EQ(X509_get_key_usage(x), uint32_t(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(x), uint32_t(XKU_SSL_CLIENT));

  // The identity extension is private and non-critical, so other TLS stacks accept the cert.
  crypto_internal::Asn1ObjectPtr oid(OBJ_txt2obj(crypto_internal::kIdentityExtensionOid, 1));
  int idx = X509_get_ext_by_OBJ(x, oid.get(), -1);
  ASSERT_GE(idx, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x, idx)), 0);

  auto expiry = cert_expiry(pem);
  ASSERT_TRUE(expiry.ok());
  EXPECT_EQ(*expiry, kNow + std::chrono::hours(12));
}

TEST_F(CertsTest, ServerCertAddsServerAuthAndSans) {
  Identity host;
  host.kind = IdentityKind::kHost;
  host.username = "5f1c8e52-3b1d-4d8a-9a43-0d1f0e6b2a77";
  host.roles = {kHostRoleProxy};
  host.cluster_name = "example.com";
  host.expires = kNow + std::chrono::hours(24);
  CertRequest req = request(host);
  req.is_server = true;
  req.dns_names = {"proxy.example.com", "*.proxy.example.com", "localhost"};
  req.ip_addresses = {"127.0.0.1", "::1", "10.1.2.3"};
  std::string pem = sign(req);

  auto cert = load_cert_pem(pem);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(X509_get_extended_key_usage(cert->get()), uint32_t(XKU_SSL_CLIENT | XKU_SSL_SERVER));
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  std::set<std::string> dns, ips;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      dns.insert(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)));
    } else if (gn->type == GEN_IPADD) {
      ips.insert(to_hex(ASN1_STRING_get0_data(gn->d.iPAddress),
                        static_cast<size_t>(ASN1_STRING_length(gn->d.iPAddress))));
    }
  }
  GENERAL_NAMES_free(names);
  EXPECT_EQ(dns, (std::set<std::string>{"proxy.example.com", "*.proxy.example.com", "localhost"}));
  EXPECT_EQ(ips, (std::set<std::string>{"7f000001", "00000000000000000000000000000001", "0a010203"}));
  EXPECT_EQ(X509_check_host(cert->get(), "proxy.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert->get(), "::1", 0), 1);

  auto lacks = cert_lacks_san(pem);
  ASSERT_TRUE(lacks.ok());
  EXPECT_FALSE(*lacks);

  auto id = identity_from_cert_pem(pem);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, host);
  EXPECT_TRUE(id->is_host_role(kHostRoleProxy));
}

TEST_F(CertsTest, RejectsBadRequests) {
  Identity id = alice_db_identity();
  id.expires = kNow - std::chrono::minutes(1);  // == not_before
  auto r = sign_certificate(ca_, request(id));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("is not after the start of validity"), std::string::npos) << r.error().message;

  CertRequest bad_ip = request(alice_db_identity());
  bad_ip.ip_addresses = {"300.1.1.1"};
  r = sign_certificate(ca_, bad_ip);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("300.1.1.1"), std::string::npos);

  CertRequest bad_key = request(alice_db_identity());
  bad_key.public_key_pem = "nope";
  EXPECT_FALSE(sign_certificate(ca_, bad_key).ok());

  Identity bad_utf8 = alice_db_identity();
  bad_utf8.traits["db_users"].push_back("\xff\xfe");
  r = sign_certificate(ca_, request(bad_utf8));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("UTF-8"), std::string::npos) << r.error().message;
}

TEST_F(CertsTest, IdentityRoundTripsThroughCertificates) {
  Identity with_route = alice_db_identity();
  Identity without_route = alice_db_identity();
  without_route.route.reset();
  Identity no_roles;
  no_roles.username = "bob";
  no_roles.cluster_name = "example.com";
  no_roles.expires = kNow + std::chrono::minutes(5);
  Identity host;
  host.kind = IdentityKind::kHost;
  host.username = "db-agent-1";
  host.roles = {kHostRoleDb};
  host.traits = {{"x", {"1", "2"}}};
  host.cluster_name = "other.cluster";
  host.expires = kNow + std::chrono::hours(8760);
  Identity long_name = alice_db_identity();
  long_name.username = std::string(61, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9";  // > 64 bytes, cut at a char boundary

  for (const Identity& want : {with_route, without_route, no_roles, host, long_name}) {
    std::string pem = sign(request(want));
    auto got = identity_from_cert_pem(pem);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, want) << want.username;
    auto verified = verify_cert(pem, {ca_.cert_pem}, kNow);
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_EQ(*verified, want);
  }
}

TEST_F(CertsTest, VerifyAcceptsOnlyThisClustersCa) {
  std::string pem = sign(request(alice_db_identity()));
  auto other = create_cert_authority(CaType::kUser, "example.com", clock_);
  ASSERT_TRUE(other.ok());

  auto wrong = verify_cert(pem, {other->cert_pem}, kNow);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(wrong.error().message, "certificate is not signed by this cluster's CA");

  // During CA rotation both the old and the new CA are trusted.
  EXPECT_TRUE(verify_cert(pem, {other->cert_pem, ca_.cert_pem}, kNow).ok());

  // A CA certificate is not an identity, even though it chains to itself.
  auto ca_itself = verify_cert(ca_.cert_pem, {ca_.cert_pem}, kNow);
  ASSERT_FALSE(ca_itself.ok());
  EXPECT_EQ(ca_itself.error().message, "certificate carries no teleport identity");

  EXPECT_FALSE(verify_cert(pem, {}, kNow).ok());
  EXPECT_FALSE(verify_cert("garbage", {ca_.cert_pem}, kNow).ok());
}

TEST_F(CertsTest, VerifyKeepsGivingTheSameAnswersAcrossManyCaSetsAndThreads) {
  std::string pem = sign(request(alice_db_identity()));
  // Many distinct CA sets, then the first again.
  std::vector<std::string> others;
  for (int i = 0; i < 20; ++i) {
    auto other = create_cert_authority(CaType::kUser, "c" + std::to_string(i), clock_);
    ASSERT_TRUE(other.ok());
    others.push_back(other->cert_pem);
    EXPECT_FALSE(verify_cert(pem, {other->cert_pem}, kNow).ok());
    EXPECT_TRUE(verify_cert(pem, {other->cert_pem, ca_.cert_pem}, kNow).ok());
  }
  EXPECT_FALSE(verify_cert(pem, {others.front()}, kNow).ok());
  EXPECT_TRUE(verify_cert(pem, {ca_.cert_pem}, kNow).ok());

  // Many threads verifying against one cached CA at once.
  std::atomic<int> verified = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (verify_cert(pem, {ca_.cert_pem}, kNow).ok() && !verify_cert(pem, {others[1]}, kNow).ok()) ++verified;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(verified, 200);
}

TEST_F(CertsTest, VerifyChecksValidityAtTheGivenTime) {
  Identity id = alice_db_identity();
  std::string pem = sign(request(id));

  EXPECT_TRUE(verify_cert(pem, {ca_.cert_pem}, id.expires - std::chrono::seconds(1)).ok());

  auto late = verify_cert(pem, {ca_.cert_pem}, id.expires + std::chrono::seconds(1));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kExpired);
  EXPECT_EQ(late.error().message,
            "certificate expired at 2023-11-15T10:13:20Z; run 'tsh login' to get a new one");

  auto early = verify_cert(pem, {ca_.cert_pem}, kNow - std::chrono::minutes(2));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(early.error().message.find("not valid until 2023-11-14T22:12:20Z"), std::string::npos)
      << early.error().message;
}

// verify_cert remembers a verified certificate; each later call still compares
// the time with the whole chain's validity, as the full check would.
TEST_F(CertsTest, ARememberedVerificationStillEndsWhenTheCertificateDoes) {
  Identity id = alice_db_identity();
  std::string pem = sign(request(id));
  ASSERT_TRUE(verify_cert(pem, {ca_.cert_pem}, kNow).ok());
  auto again = verify_cert(pem, {ca_.cert_pem}, kNow + std::chrono::hours(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->username, id.username);
  EXPECT_EQ(again->route, id.route);

  auto at_expiry = verify_cert(pem, {ca_.cert_pem}, id.expires);  // notAfter itself is too late
  ASSERT_FALSE(at_expiry.ok());
  EXPECT_EQ(at_expiry.error().code, ErrorCode::kExpired);
  EXPECT_TRUE(verify_cert(pem, {ca_.cert_pem}, id.expires - std::chrono::seconds(1)).ok());
}

TEST_F(CertsTest, ARememberedVerificationEndsWhenTheCaDoes) {
  Identity id = alice_db_identity();
  id.expires = kNow + std::chrono::years(11);  // outlives the CA's ten years
  std::string pem = sign(request(id));
  ASSERT_TRUE(verify_cert(pem, {ca_.cert_pem}, kNow).ok());

  auto ca_expiry = cert_expiry(ca_.cert_pem);
  ASSERT_TRUE(ca_expiry.ok());
  EXPECT_TRUE(verify_cert(pem, {ca_.cert_pem}, *ca_expiry - std::chrono::seconds(1)).ok());
  auto late = verify_cert(pem, {ca_.cert_pem}, *ca_expiry + std::chrono::seconds(1));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kExpired);
  EXPECT_NE(late.error().message.find("certificate authority expired"), std::string::npos) << late.error().message;
}

TEST_F(CertsTest, ARememberedVerificationHoldsOnlyForTheSameCas) {
  std::string pem = sign(request(alice_db_identity()));
  auto other = create_cert_authority(CaType::kUser, "other.example.com", clock_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(verify_cert(pem, {ca_.cert_pem, other->cert_pem}, kNow).ok());
  // The signing CA rotated out: the same certificate no longer verifies.
  EXPECT_FALSE(verify_cert(pem, {other->cert_pem}, kNow).ok());
  EXPECT_TRUE(verify_cert(pem, {ca_.cert_pem}, kNow).ok());
}

TEST_F(CertsTest, LacksSanWithoutSubjectAltName) {
  auto legacy = cert_lacks_san(kLegacyCertPem);
  ASSERT_TRUE(legacy.ok());
  EXPECT_TRUE(*legacy);
  auto leaf = cert_lacks_san(sign(request(alice_db_identity())));  // no dns_names / ip_addresses
  ASSERT_TRUE(leaf.ok());
  EXPECT_TRUE(*leaf);
  EXPECT_FALSE(cert_lacks_san("garbage").ok());

  auto expiry = cert_expiry(kLegacyCertPem);
  ASSERT_TRUE(expiry.ok());
  EXPECT_EQ(to_unix_seconds(*expiry), 4949225236);  // 2126-11-01T16:47:16Z, a GeneralizedTime
}

TEST_F(CertsTest, CaPinMatchesIndependentComputation) {
  auto fixed = ca_pin(kLegacyCertPem);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message;
  EXPECT_EQ(*fixed, kLegacyCertPin);

  // The same bytes reached through the certificate's X509_PUBKEY structure
  // and hashed with the one-shot digest.
  auto cert = load_cert_pem(ca_.cert_pem);
  ASSERT_TRUE(cert.ok());
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert->get()), &der);
  ASSERT_GT(len, 0);
  unsigned char md[32];
  size_t md_len = 0;
  ASSERT_EQ(EVP_Q_digest(nullptr, "SHA256", nullptr, der, static_cast<size_t>(len), md, &md_len), 1);
  OPENSSL_free(der);
  auto pin = ca_pin(ca_.cert_pem);
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(*pin, "sha256:" + to_hex(md, md_len));
  EXPECT_EQ(pin->size(), 7u + 64u);
}

TEST_F(CertsTest, CaPinMatchesOpensslCommandLine) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl command";
  char path[] = "/tmp/tp_crypto_pin_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, ca_.cert_pem.data(), ca_.cert_pem.size()), static_cast<ssize_t>(ca_.cert_pem.size()));
  close(fd);
  std::string cmd = std::string("openssl x509 -in ") + path +
                    " -pubkey -noout | openssl pkey -pubin -outform der | sha256sum";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[128] = {};
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  pclose(p);
  unlink(path);
  ASSERT_GE(n, 64u);
  auto pin = ca_pin(ca_.cert_pem);
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(*pin, "sha256:" + std::string(buf, 64));
}

}  // namespace
}  // namespace tp
