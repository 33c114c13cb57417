#include "protocol/mysql/command.h"

#include <gtest/gtest.h>

#include "fixtures.h"
#include "protocol/mysql/constants.h"

namespace tp::mysql {
namespace {

using testing::bytes;
using testing::expect_prefixes_fail;
using testing::le16;
using testing::le32;
using testing::nul;

constexpr uint64_t kCaps =
    CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS;

// Parses, checks the type, re-encodes to the same bytes and checks that every truncation of the
// fixed part fails.
Command round_trip(const std::string& payload, CommandType type, size_t mandatory, uint64_t caps = kCaps) {
  auto c = parse_command(payload, caps);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  if (!c.ok()) return {};
  EXPECT_EQ(c->type, type);
  auto encoded = encode_command(*c, caps);
  EXPECT_TRUE(encoded.ok());
  if (encoded.ok()) {
    EXPECT_EQ(*encoded, payload);
  }
  expect_prefixes_fail(payload, mandatory, [caps](std::string_view s) { return parse_command(s, caps); });
  return *c;
}

TEST(MysqlCommand, SimpleCommands) {
  EXPECT_EQ(round_trip(bytes({0x01}), CommandType::kQuit, 1).body, "");
  round_trip(bytes({0x0e}), CommandType::kPing, 1);
  round_trip(bytes({0x1f}), CommandType::kResetConnection, 1);
  round_trip(bytes({0x09}), CommandType::kStatistics, 1);
  EXPECT_STREQ(command_name(CommandType::kResetConnection), "COM_RESET_CONNECTION");
  EXPECT_STREQ(command_name(static_cast<CommandType>(0x42)), "COM_UNKNOWN");
}

TEST(MysqlCommand, TextCommands) {
  EXPECT_EQ(round_trip(bytes({0x02}) + "sales", CommandType::kInitDb, 1).text, "sales");
  EXPECT_EQ(round_trip(bytes({0x03}) + "SELECT 1", CommandType::kQuery, 1).text, "SELECT 1");
  EXPECT_EQ(round_trip(bytes({0x16}) + "SELECT ?", CommandType::kStmtPrepare, 1).text, "SELECT ?");
  // An empty query is still a query.
  EXPECT_EQ(round_trip(bytes({0x03}), CommandType::kQuery, 1).text, "");
}

TEST(MysqlCommand, QueryWithAttributes) {
  const uint64_t caps = kCaps | CLIENT_QUERY_ATTRIBUTES;
  // Without attributes: parameter_count 0, parameter_set_count 1.
  EXPECT_EQ(round_trip(bytes({0x03, 0x00, 0x01}) + "SELECT 1", CommandType::kQuery, 3, caps).text,
            "SELECT 1");

  // Two attributes: a string "trace" = "abc" and a NULL "n" of type LONGLONG.
  const std::string p = bytes({0x03, 0x02, 0x01, 0x02 /* null bitmap: second */, 0x01 /* bind flag */}) +
                        le16(MYSQL_TYPE_VAR_STRING) + bytes({0x05}) + "trace" + le16(MYSQL_TYPE_LONGLONG) +
                        bytes({0x01}) + "n" + bytes({0x03}) + "abc" + "SELECT 2";
  const Command c = round_trip(p, CommandType::kQuery, p.size() - 8, caps);
  EXPECT_EQ(c.text, "SELECT 2");
  ASSERT_EQ(c.query_attributes.size(), 2u);
  EXPECT_EQ(c.query_attributes[0].name, "trace");
  EXPECT_FALSE(c.query_attributes[0].is_null);
  EXPECT_EQ(c.query_attributes[0].value, bytes({0x03}) + "abc");
  EXPECT_EQ(c.query_attributes[1].name, "n");
  EXPECT_TRUE(c.query_attributes[1].is_null);

  // Fixed-width and temporal values are skipped by their size.
  const std::string q = bytes({0x03, 0x02, 0x01, 0x00, 0x01}) + le16(MYSQL_TYPE_LONG | 0x8000) +
                        bytes({0x01}) + "a" + le16(MYSQL_TYPE_DATETIME) + bytes({0x01}) + "b" + le32(7) +
                        bytes({0x04, 0xe8, 0x07, 0x01, 0x02}) + "SELECT 3";
  const Command d = round_trip(q, CommandType::kQuery, q.size() - 8, caps);
  EXPECT_EQ(d.text, "SELECT 3");
  EXPECT_EQ(d.query_attributes[0].value, le32(7));
  EXPECT_EQ(d.query_attributes[1].value, bytes({0x04, 0xe8, 0x07, 0x01, 0x02}));

  // The same bytes without CLIENT_QUERY_ATTRIBUTES are all query text.
  EXPECT_EQ(parse_command(q, kCaps)->text, q.substr(1));
  // A type with no binary encoding, or a count the packet cannot hold, is an error.
  EXPECT_FALSE(parse_command(bytes({0x03, 0x01, 0x01, 0x00, 0x01, 0x63, 0x00, 0x00, 0x00}), caps).ok());
  EXPECT_FALSE(parse_command(bytes({0x03, 0xfd, 0xff, 0xff, 0xff, 0x01}), caps).ok());
  Command plain;
  plain.type = CommandType::kQuery;
  plain.query_attributes.push_back({"x", MYSQL_TYPE_NULL, true, ""});
  EXPECT_FALSE(encode_command(plain, kCaps).ok());
}

TEST(MysqlCommand, StatementCommands) {
  const Command exec = round_trip(bytes({0x17}) + le32(5) + bytes({CURSOR_TYPE_READ_ONLY}) + le32(1) +
                                      bytes({0x00, 0x01, 0x08, 0x00, 0x2a, 0, 0, 0, 0, 0, 0, 0}),
                                  CommandType::kStmtExecute, 10);
  EXPECT_EQ(exec.statement_id, 5u);
  EXPECT_EQ(exec.flags, CURSOR_TYPE_READ_ONLY);
  EXPECT_EQ(exec.iteration_count, 1u);
  EXPECT_EQ(exec.body.size(), 12u);

  EXPECT_EQ(round_trip(bytes({0x19}) + le32(9), CommandType::kStmtClose, 5).statement_id, 9u);
  EXPECT_EQ(round_trip(bytes({0x1a}) + le32(10), CommandType::kStmtReset, 5).statement_id, 10u);
  const Command fetch = round_trip(bytes({0x1c}) + le32(3) + le32(100), CommandType::kStmtFetch, 9);
  EXPECT_EQ(fetch.statement_id, 3u);
  EXPECT_EQ(fetch.num_rows, 100u);
  const Command data =
      round_trip(bytes({0x18}) + le32(4) + le16(1) + "blob", CommandType::kStmtSendLongData, 7);
  EXPECT_EQ(data.param_id, 1);
  EXPECT_EQ(data.body, "blob");
  const Command bulk =
      round_trip(bytes({0xfa}) + le32(2) + le16(0x80) + "params", CommandType::kStmtBulkExecute, 7);
  EXPECT_EQ(bulk.statement_id, 2u);
  EXPECT_EQ(bulk.flags, 0x80);
}

TEST(MysqlCommand, OtherFixedCommands) {
  EXPECT_EQ(round_trip(bytes({0x0c}) + le32(77), CommandType::kProcessKill, 5).connection_id, 77u);
  EXPECT_EQ(round_trip(bytes({0x1b}) + le16(1), CommandType::kSetOption, 3).option, 1);
  EXPECT_EQ(round_trip(bytes({0x07, 0x01}), CommandType::kRefresh, 1).option, 1);
  const Command fields = round_trip(bytes({0x04}) + nul("orders") + "%", CommandType::kFieldList, 8);
  EXPECT_EQ(fields.text, "orders");
  EXPECT_EQ(fields.body, "%");
}

TEST(MysqlCommand, ChangeUser) {
  const std::string attrs = bytes({0x04}) + "_pid" + bytes({0x01}) + "7";
  const std::string p = bytes({0x11}) + nul("bob") + bytes({0x03}) + "xyz" + nul("inventory") + le16(45) +
                        nul("mysql_native_password") + bytes({int(attrs.size())}) + attrs;
  const Command c = round_trip(p, CommandType::kChangeUser, 1 + 4 + 4 + 10);
  ASSERT_TRUE(c.change_user.has_value());
  EXPECT_EQ(c.change_user->username, "bob");
  EXPECT_EQ(c.change_user->auth_response, "xyz");
  EXPECT_EQ(c.change_user->database, "inventory");
  EXPECT_EQ(c.change_user->character_set, 45);
  EXPECT_EQ(c.change_user->auth_plugin_name, "mysql_native_password");
  ASSERT_EQ(c.change_user->connect_attributes.size(), 1u);

  // Old layout: NUL-terminated auth data, no optional tail.
  const std::string old = bytes({0x11}) + nul("bob") + nul("pw") + nul("db");
  const Command o = round_trip(old, CommandType::kChangeUser, old.size(), CLIENT_PROTOCOL_41);
  EXPECT_EQ(o.change_user->auth_response, "pw");
  EXPECT_FALSE(o.change_user->character_set.has_value());
}

TEST(MysqlCommand, Errors) {
  auto empty = parse_command("", kCaps);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);
  auto unknown = parse_command(bytes({0x42}), kCaps);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown MySQL command byte 66"), std::string::npos);
  auto cut = parse_command(bytes({0x17, 0x01, 0x00}), kCaps);
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("COM_STMT_EXECUTE: truncated reading statement id"), std::string::npos)
      << cut.error().message;
  Command bad;
  bad.type = CommandType::kChangeUser;
  EXPECT_FALSE(encode_command(bad, kCaps).ok());
}

}  // namespace
}  // namespace tp::mysql
