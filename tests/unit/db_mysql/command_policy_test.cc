#include "db/mysql/command_policy.h"

#include <gtest/gtest.h>

#include "protocol/mysql/constants.h"
#include "unit/protocol_mysql/fixtures.h"

namespace tp::db {
namespace {

namespace m = tp::mysql;
using m::testing::bytes;

constexpr uint64_t kCaps = m::CLIENT_PROTOCOL_41 | m::CLIENT_SECURE_CONNECTION | m::CLIENT_PLUGIN_AUTH;

Status only_app(const std::string& db) {
  if (db == "app") return {};
  return access_denied("access to database name \"" + db + "\" denied");
}

TEST(CheckCommand, ForwardsOrdinaryCommands) {
  for (const std::string& payload :
       {bytes({0x03}) + "SELECT 1", bytes({0x0e}), bytes({0x01}), bytes({0x16}) + "SELECT ?",
        bytes({0x02}) + "app", bytes({0x03}) + "use app", bytes({0x1f})}) {
    EXPECT_TRUE(check_command(payload, kCaps, only_app).forward) << int(payload[0]);
  }
}

TEST(CheckCommand, RefusesAnotherDatabase) {
  for (const std::string& payload : {bytes({0x02}) + "secret", bytes({0x03}) + "USE `secret`;"}) {
    auto v = check_command(payload, kCaps, only_app);
    EXPECT_FALSE(v.forward);
    EXPECT_EQ(v.refusal.error_code, 1044);
    EXPECT_EQ(v.refusal.sql_state, "42000");
    EXPECT_NE(v.refusal.message.find("\"secret\" denied"), std::string::npos);
  }
}

TEST(CheckCommand, RefusesChangeUserReplicationAndUnknownCommands) {
  auto change = check_command(bytes({0x11}) + "root" + std::string(1, '\0') + bytes({0}), kCaps, only_app);
  EXPECT_FALSE(change.forward);
  EXPECT_EQ(change.refusal.error_code, 1045);
  EXPECT_EQ(change.refusal.sql_state, "28000");
  EXPECT_NE(change.refusal.message.find("COM_CHANGE_USER"), std::string::npos);
  EXPECT_NE(change.refusal.message.find("tsh db login"), std::string::npos);

  auto binlog = check_command(bytes({0x12, 0, 0, 0, 0}), kCaps, only_app);
  EXPECT_FALSE(binlog.forward);
  EXPECT_EQ(binlog.refusal.error_code, 1235);
  EXPECT_NE(binlog.refusal.message.find("COM_BINLOG_DUMP"), std::string::npos);

  EXPECT_EQ(check_command(bytes({0x60}), kCaps, only_app).refusal.error_code, 1047);
  EXPECT_EQ(check_command("", kCaps, only_app).refusal.error_code, 1047);
}

TEST(UseStatementDatabase, RecognisesOnlyASingleUse) {
  struct Case {
    const char* sql;
    std::optional<std::string> db;
  };
  Case cases[] = {
      {"USE app", "app"},
      {"use app;", "app"},
      {"  /* hi */ Use\tapp ; ", "app"},
      {"-- comment\nuse app", "app"},
      {"# comment\nuse `my db`", "my db"},
      {"use`a``b`", "a`b"},
      {"USE/**/app", "app"},
      {"use app; select 1", "app"},
      {"use `x`;select 1", "x"},
      {"select 1; use app", std::nullopt},
      {"user app", std::nullopt},
      {"use", std::nullopt},
      {"use `open", std::nullopt},
      {"SELECT 'use app'", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(use_statement_database(c.sql), c.db) << c.sql;
}

}  // namespace
}  // namespace tp::db
