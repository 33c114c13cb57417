// tsh's on-disk layout (src/cli/tsh/profile.h).
#include "cli/tsh/profile.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>

#include "common/files.h"

namespace tp::tsh {
namespace {

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tp-tsh-XXXXXX").string();
    path = ::mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

Profile alice() {
  Profile p;
  p.web_proxy_addr = "proxy.example.com:3080";
  p.user = "alice";
  p.cluster = "example";
  p.postgres_proxy_addr = "proxy.example.com:5432";
  return p;
}

TEST(TshProfileTest, PathsFollowTheReferenceLayout) {
  ProfileStore store("/home/a/.tsh");
  Profile p = alice();
  EXPECT_EQ(p.name(), "proxy.example.com");
  EXPECT_EQ(store.profile_path(p.name()), "/home/a/.tsh/proxy.example.com.yaml");
  EXPECT_EQ(store.current_path(), "/home/a/.tsh/current-profile");
  EXPECT_EQ(store.key_path(p), "/home/a/.tsh/keys/proxy.example.com/alice");
  EXPECT_EQ(store.cert_path(p), "/home/a/.tsh/keys/proxy.example.com/alice-x509.pem");
  EXPECT_EQ(store.ca_path(p), "/home/a/.tsh/keys/proxy.example.com/cas/example.pem");
  EXPECT_EQ(store.db_cert_path(p, "pg"), "/home/a/.tsh/keys/proxy.example.com/alice-db/example/pg-x509.pem");
}

TEST(TshProfileTest, ProfileNameIsTheProxyHost) {
  EXPECT_EQ(profile_name_for("localhost:3080"), "localhost");
  EXPECT_EQ(profile_name_for("teleport.example.com"), "teleport.example.com");
  EXPECT_EQ(profile_name_for("[::1]:443"), "::1");
}

TEST(TshProfileTest, TeleportHomeOverridesTheDefault) {
  ::setenv("TELEPORT_HOME", "/tmp/somewhere", 1);
  EXPECT_EQ(ProfileStore::from_environment().home(), "/tmp/somewhere");
  ::unsetenv("TELEPORT_HOME");
  EXPECT_EQ(ProfileStore::from_environment().home(), home_dir() + "/.tsh");
}

TEST(TshProfileTest, SaveLoadRemove) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  ProfileStore store(dir.path + "/tsh");
  EXPECT_EQ(store.current().error().code, ErrorCode::kNotFound);
  Profile p = alice();
  p.trust = kTrustInsecure;
  ASSERT_TRUE(store.save(p).ok());
  auto loaded = store.current();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->web_proxy_addr, p.web_proxy_addr);
  EXPECT_EQ(loaded->user, "alice");
  EXPECT_EQ(loaded->cluster, "example");
  EXPECT_EQ(loaded->postgres_proxy_addr, "proxy.example.com:5432");
  EXPECT_EQ(loaded->mysql_proxy_addr, "");
  EXPECT_EQ(loaded->trust, kTrustInsecure);

  ASSERT_TRUE(make_dirs(store.db_cert_dir(p)).ok());
  ASSERT_TRUE(write_file_atomic(store.db_cert_path(p, "zeta"), "x").ok());
  ASSERT_TRUE(write_file_atomic(store.db_cert_path(p, "alpha"), "x").ok());
  EXPECT_EQ(store.db_logins(p), (std::vector<std::string>{"alpha", "zeta"}));
  EXPECT_EQ(store.all().size(), 1u);

  ASSERT_TRUE(store.remove(p).ok());
  EXPECT_FALSE(store.current().ok());
  EXPECT_FALSE(file_exists(store.db_cert_path(p, "alpha")));
  EXPECT_TRUE(store.all().empty());
}

}  // namespace
}  // namespace tp::tsh
