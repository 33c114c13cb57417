#include "db/upstream_credentials.h"

#include <gtest/gtest.h>

#include "common/files.h"
#include "unit/backend/temp_dir.h"

namespace tp::db {
namespace {

Database self_hosted(std::string name) {
  Database db;
  db.name = std::move(name);
  db.protocol = "postgres";
  db.uri = "127.0.0.1:5432";
  return db;
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class FixedIam final : public IamTokenProvider {
 public:
  Result<std::string> token(const Database& db, const std::string& user) override {
    return "token-for-" + user + "@" + db.name;
  }
};

TEST(UpstreamCredentials, EnvironmentVariableNamesFollowTheDatabaseName) {
  EXPECT_EQ(password_env_var("local-pg"), "TELEPORT_DB_PASSWORD_LOCAL_PG");
  EXPECT_EQ(password_env_var("pg.main_2"), "TELEPORT_DB_PASSWORD_PG_MAIN_2");
}

TEST(UpstreamCredentials, PasswordFileWinsOverTheEnvironment) {
  testing::TempDir dir;
  ASSERT_TRUE(write_file_atomic(dir.file("pw"), "s3cret\n").ok());
  auto db = self_hosted("local-pg");
  db.password_file = dir.file("pw");
  auto creds = make_upstream_credentials(nullptr, env_of({{"TELEPORT_DB_PASSWORD_LOCAL_PG", "from-env"}}));
  auto pw = creds->password(db, "alice");
  ASSERT_TRUE(pw.ok()) << pw.error().message;
  EXPECT_EQ(*pw, "s3cret") << "the trailing newline is not part of the password";
}

TEST(UpstreamCredentials, TheEnvironmentServesWhenNoFileIsSet) {
  auto creds = make_upstream_credentials(nullptr, env_of({{"TELEPORT_DB_PASSWORD_LOCAL_PG", "from-env"}}));
  auto pw = creds->password(self_hosted("local-pg"), "alice");
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(*pw, "from-env");
}

TEST(UpstreamCredentials, NothingConfiguredIsNotFoundAndSaysWhatToSet) {
  auto creds = make_upstream_credentials(nullptr, env_of({}));
  auto pw = creds->password(self_hosted("local-pg"), "alice");
  ASSERT_FALSE(pw.ok());
  EXPECT_EQ(pw.error().code, ErrorCode::kNotFound);
  EXPECT_NE(pw.error().message.find("TELEPORT_DB_PASSWORD_LOCAL_PG"), std::string::npos);
  EXPECT_NE(pw.error().message.find("password_file"), std::string::npos);
}

TEST(UpstreamCredentials, AnUnreadablePasswordFileIsAnError) {
  auto db = self_hosted("local-pg");
  db.password_file = "/nonexistent/pw";
  auto pw = make_upstream_credentials(nullptr, env_of({}))->password(db, "alice");
  ASSERT_FALSE(pw.ok());
  EXPECT_NE(pw.error().code, ErrorCode::kNotFound);
}

TEST(UpstreamCredentials, RdsDatabasesUseTheIamTokenProvider) {
  Database db = self_hosted("rds");
  db.uri = "mydb.abc123.us-east-1.rds.amazonaws.com:5432";
  ASSERT_TRUE(db.iam_auth());
  auto creds =
      make_upstream_credentials(std::make_unique<FixedIam>(), env_of({{"TELEPORT_DB_PASSWORD_RDS", "no"}}));
  auto pw = creds->password(db, "alice");
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(*pw, "token-for-alice@rds");

  auto without = make_upstream_credentials(nullptr, env_of({}))->password(db, "alice");
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.error().message.find("IAM auth is not available in this build"), std::string::npos);
}

TEST(UpstreamCredentials, RegionComesFromTheRdsEndpoint) {
  EXPECT_EQ(region_from_rds_host("mydb.abc123.eu-west-2.rds.amazonaws.com"), "eu-west-2");
  EXPECT_EQ(region_from_rds_host("MyDB.abc.US-EAST-1.RDS.AMAZONAWS.COM"), "us-east-1");
  EXPECT_EQ(region_from_rds_host("db.internal"), "");
}

}  // namespace
}  // namespace tp::db
