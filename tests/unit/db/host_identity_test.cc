#include "db/host_identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "common/files.h"
#include "crypto/certs.h"
#include "unit/backend/temp_dir.h"
#include "unit/tunnel/test_pki.h"

namespace tp::db {
namespace {

TEST(HostId, IsAVersion4UuidKeptAcrossRestarts) {
  testing::TempDir dir;
  auto first = load_or_create_host_id(dir.path(), crypto_rng());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(std::regex_match(
      *first, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << *first;
  auto again = load_or_create_host_id(dir.path(), crypto_rng());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
}

nlohmann::json issued(const testing::TestPki& pki, const testing::KeyPair& cert) {
  return {{"cert", cert.cert_pem},
          {"host_cas", {pki.host_ca.cert_pem}},
          {"user_cas", {pki.user_ca.cert_pem}},
          {"db_ca", "db-ca-pem"}};
}

TEST(HostIdentityStore, SavesAndLoadsTheJoinedIdentity) {
  testing::TempDir dir;
  testing::TestPki pki;
  auto cert = pki.host_cert("host-1", kHostRoleDb);
  HostIdentity id;
  id.host_id = "host-1";
  id.key_pem = cert.key_pem;
  ASSERT_TRUE(apply_issued_certs(id, issued(pki, cert)).ok());
  EXPECT_GT(id.expires, id.not_before);
  ASSERT_TRUE(save_host_identity(dir.path(), id).ok());

  struct stat st {};
  ASSERT_EQ(::stat(dir.file("db/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the private key is private";

  auto loaded = load_host_identity(dir.path(), "host-1");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->cert_pem, id.cert_pem);
  EXPECT_EQ(loaded->key_pem, id.key_pem);
  ASSERT_EQ(loaded->host_ca_pems.size(), 1u);
  EXPECT_EQ(loaded->host_ca_pems[0], pki.host_ca.cert_pem);
  EXPECT_EQ(loaded->user_ca_pems, std::vector<std::string>{pki.user_ca.cert_pem});
  EXPECT_EQ(loaded->db_ca_pem, "db-ca-pem");
  EXPECT_EQ(to_unix_seconds(loaded->expires), to_unix_seconds(id.expires));
}

TEST(HostIdentityStore, NothingStoredIsNotFound) {
  testing::TempDir dir;
  auto loaded = load_host_identity(dir.path(), "host-1");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kNotFound);
}

TEST(HostIdentityStore, AnotherHostsCertificateIsRefused) {
  testing::TempDir dir;
  testing::TestPki pki;
  auto cert = pki.host_cert("host-1", kHostRoleDb);
  HostIdentity id;
  id.host_id = "host-1";
  id.key_pem = cert.key_pem;
  ASSERT_TRUE(apply_issued_certs(id, issued(pki, cert)).ok());
  ASSERT_TRUE(save_host_identity(dir.path(), id).ok());
  auto loaded = load_host_identity(dir.path(), "host-2");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("join again"), std::string::npos);
}

TEST(IssuedCerts, AnswersThatAreNotForThisHostAreRefused) {
  testing::TestPki pki;
  HostIdentity id;
  id.host_id = "host-1";
  EXPECT_FALSE(apply_issued_certs(id, issued(pki, pki.host_cert("someone-else", kHostRoleDb))).ok());
  EXPECT_FALSE(apply_issued_certs(id, nlohmann::json{{"cert", "x"}}).ok());
  auto no_cas = issued(pki, pki.host_cert("host-1", kHostRoleDb));
  no_cas["host_cas"] = nlohmann::json::array();
  EXPECT_FALSE(apply_issued_certs(id, no_cas).ok());
}

TEST(Renewal, HappensAtTwoThirdsOfTheLifetime) {
  HostIdentity id;
  id.not_before = from_unix_seconds(1'000'000);
  id.expires = from_unix_seconds(1'000'000 + 3 * 3600);
  EXPECT_EQ(to_unix_seconds(renewal_time(id)), 1'000'000 + 2 * 3600);
}

TEST(CaPins, OneMatchingPinIsEnough) {
  testing::TestPki pki;
  auto pin = ca_pin(pki.host_ca.cert_pem);
  ASSERT_TRUE(pin.ok());
  EXPECT_TRUE(check_ca_pins({pki.host_ca.cert_pem}, {}).ok()) << "no pin configured: the caller warns";
  EXPECT_TRUE(check_ca_pins({pki.host_ca.cert_pem}, {"sha256:00", *pin}).ok());
  auto wrong = check_ca_pins({pki.host_ca.cert_pem}, {"sha256:" + std::string(64, '0')});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(wrong.error().message.find(*pin), std::string::npos) << "says which pin the cluster has";
}

}  // namespace
}  // namespace tp::db
