#include "db/mysql/query_auditor.h"

#include <gtest/gtest.h>

#include "protocol/mysql/command.h"
#include "unit/protocol_mysql/fixtures.h"

namespace tp::db {
namespace {

namespace m = tp::mysql;
using m::testing::bytes;
using m::testing::frame;
using m::testing::le16;
using m::testing::le32;

constexpr uint64_t kCaps = m::CLIENT_PROTOCOL_41 | m::CLIENT_TRANSACTIONS | m::CLIENT_SECURE_CONNECTION |
                           m::CLIENT_MULTI_RESULTS | m::CLIENT_PLUGIN_AUTH | m::CLIENT_DEPRECATE_EOF;

struct Recorded {
  std::string query;
  std::vector<std::string> parameters;
};

// The auditor behind a real decoder, fed what a relay forwards.
class AuditorTest : public ::testing::Test {
 protected:
  void client(const std::string& payload, uint8_t seq = 0) {
    ASSERT_TRUE(decoder_.on_client_packet(m::Packet{seq, seq, payload}).ok());
  }
  void server(const std::string& bytes) { ASSERT_TRUE(decoder_.on_server_data(bytes).ok()); }

  static std::string ok() { return frame(bytes({0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}), 1); }
  static std::string err() { return frame(bytes({0xff, 0x19, 0x04}) + "#42000nope", 1); }
  static std::string param_def() {
    return bytes(
        {0x03, 'd', 'e', 'f', 0, 0, 0, 1, '?', 0, 0x0c, 0x3f, 0, 0, 0, 0, 0, 0xfd, 0x80, 0, 0, 0, 0});
  }

  // COM_STMT_PREPARE and its COM_STMT_PREPARE_OK with `params` parameter definitions.
  void prepare(const std::string& sql, uint32_t id, uint16_t params) {
    client(bytes({0x16}) + sql);
    std::string response = frame(bytes({0x00}) + le32(id) + le16(0) + le16(params) + bytes({0, 0, 0}), 1);
    for (uint16_t i = 0; i < params; ++i) response += frame(param_def(), static_cast<uint8_t>(2 + i));
    server(response);
  }

  std::vector<Recorded> records_;
  std::vector<std::string> databases_;
  MysqlQueryAuditor auditor_{[this](std::string_view q, std::vector<std::string> p) {
                               records_.push_back({std::string(q), std::move(p)});
                             },
                             [this](const std::string& db) { databases_.push_back(db); }};
  m::Decoder decoder_{auditor_, kCaps};
};

TEST_F(AuditorTest, QueriesAreRecordedAsSent) {
  client(bytes({0x03}) + "SELECT 1");
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].query, "SELECT 1");
  EXPECT_TRUE(records_[0].parameters.empty());
}

TEST_F(AuditorTest, ExecutionsCarryThePreparedTextAndDecodedParameters) {
  prepare("SELECT ? + ?, ?", 7, 3);
  EXPECT_TRUE(records_.empty()) << "preparing runs nothing";
  EXPECT_EQ(auditor_.prepared_statements(), 1u);

  // COM_STMT_EXECUTE: id 7, no cursor, 1 iteration; NULL bitmap (3rd is NULL), bound types
  // LONGLONG, VAR_STRING, LONG; values -5 and "hi".
  std::string execute = bytes({0x17}) + le32(7) + bytes({0x00}) + le32(1) + bytes({0x04, 0x01}) +
                        le16(m::MYSQL_TYPE_LONGLONG) + le16(m::MYSQL_TYPE_VAR_STRING) +
                        le16(m::MYSQL_TYPE_LONG) + le32(0xFFFFFFFB) + le32(0xFFFFFFFF) +
                        bytes({0x02, 'h', 'i'});
  client(execute);
  server(ok());
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].query, "SELECT ? + ?, ?");
  EXPECT_EQ(records_[0].parameters, (std::vector<std::string>{"-5", "hi", "NULL"}));

  // A second execution reuses the bound types (flag 0).
  client(bytes({0x17}) + le32(7) + bytes({0x00}) + le32(1) + bytes({0x00, 0x00}) + le32(42) + le32(0) +
         bytes({0x01, 'x'}) + le32(9));
  server(ok());
  ASSERT_EQ(records_.size(), 2u);
  EXPECT_EQ(records_[1].parameters, (std::vector<std::string>{"42", "x", "9"}));

  // Closed: forgotten.
  client(bytes({0x19}) + le32(7));
  EXPECT_EQ(auditor_.prepared_statements(), 0u);
}

TEST_F(AuditorTest, MariaDbLastPreparedStatementAndUnknownIds) {
  prepare("DELETE FROM t", 3, 0);
  client(bytes({0x17}) + le32(m::kMariaDbLastPreparedStatement) + bytes({0x00}) + le32(1));
  server(ok());
  client(bytes({0x17}) + le32(99) + bytes({0x00}) + le32(1));
  server(err());
  ASSERT_EQ(records_.size(), 2u);
  EXPECT_EQ(records_[0].query, "DELETE FROM t");
  EXPECT_EQ(records_[1].query, "") << "an execution of an unknown statement is still recorded";
}

TEST_F(AuditorTest, InitDbIsRecordedAndChangesTheDatabaseOnlyWhenTheServerAgrees) {
  client(bytes({0x02}) + "sales");
  server(ok());
  client(bytes({0x02}) + "we`ird");
  server(err());
  ASSERT_EQ(records_.size(), 2u);
  EXPECT_EQ(records_[0].query, "USE `sales`");
  EXPECT_EQ(records_[1].query, "USE `we``ird`");
  EXPECT_EQ(databases_, std::vector<std::string>{"sales"});
}

TEST_F(AuditorTest, LocalInfileAndQuit) {
  client(bytes({0x03}) + "LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t");
  server(frame(bytes({0xfb}) + "/tmp/x", 1));
  EXPECT_TRUE(auditor_.in_local_infile());
  client("some,data\n", 2);
  client("", 3);  // the end of the file; the relay then calls local_infile_done()
  auditor_.local_infile_done();
  EXPECT_FALSE(auditor_.in_local_infile());
  server(frame(bytes({0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00}), 4));
  ASSERT_EQ(records_.size(), 1u) << "file data is not a query";
  EXPECT_FALSE(auditor_.quit());
  client(bytes({0x01}));
  EXPECT_TRUE(auditor_.quit());
}

TEST_F(AuditorTest, StatementsAreBounded) {
  for (uint32_t id = 1; id <= MysqlQueryAuditor::kMaxStatements + 10; ++id) prepare("SELECT 1", id, 0);
  EXPECT_EQ(auditor_.prepared_statements(), MysqlQueryAuditor::kMaxStatements);
}

TEST(DecodeExecuteParameters, FormatsEachBinaryType) {
  struct Case {
    const char* name;
    uint16_t type;
    std::string value;
    std::string text;
  };
  Case cases[] = {
      {"tiny", 1, bytes({0xff}), "-1"},
      {"unsigned tiny", 0x8001, bytes({0xff}), "255"},
      {"short", 2, le16(0x8000), "-32768"},
      {"long", 3, le32(123456), "123456"},
      {"longlong max", 0x8008, le32(0xFFFFFFFF) + le32(0xFFFFFFFF), "18446744073709551615"},
      {"double", 5, bytes({0, 0, 0, 0, 0, 0, 0xf8, 0x3f}), "1.5"},
      {"float", 4, bytes({0, 0, 0x20, 0x40}), "2.5"},
      {"date", 10, bytes({4}) + le16(2024) + bytes({2, 29}), "2024-02-29"},
      {"datetime", 12, bytes({7}) + le16(1999) + bytes({12, 31, 23, 59, 58}), "1999-12-31 23:59:58"},
      {"datetime us", 12, bytes({11}) + le16(2000) + bytes({1, 2, 3, 4, 5}) + le32(42),
       "2000-01-02 03:04:05.000042"},
      {"zero date", 10, bytes({0}), "0000-00-00"},
      {"time", 11, bytes({8, 1}) + le32(1) + bytes({2, 3, 4}), "-26:03:04"},
      {"decimal", 246, bytes({4}) + "3.14", "3.14"},
      {"blob", 252, bytes({3, 'a', 0, 'b'}), std::string("a\0b", 3)},
  };
  for (const auto& c : cases) {
    std::vector<uint16_t> types;
    std::string body = bytes({0x00, 0x01}) + le16(c.type) + c.value;
    auto out = decode_execute_parameters(body, 1, types, {});
    ASSERT_TRUE(out.ok()) << c.name << ": " << out.error().message;
    ASSERT_EQ(out->size(), 1u) << c.name;
    EXPECT_EQ((*out)[0], c.text) << c.name;
  }
}

TEST(DecodeExecuteParameters, LongDataAndErrors) {
  std::vector<uint16_t> types;
  // Parameter 0 came in COM_STMT_SEND_LONG_DATA: its value is not in the execute packet.
  std::string body = bytes({0x00, 0x01}) + le16(252) + le16(3) + le32(8);
  auto out = decode_execute_parameters(body, 2, types, {0});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, (std::vector<std::string>{"<long data>", "8"}));

  std::vector<uint16_t> unbound;
  EXPECT_FALSE(decode_execute_parameters(bytes({0x00, 0x00}), 1, unbound, {}).ok()) << "types never bound";
  EXPECT_FALSE(decode_execute_parameters(bytes({0x00, 0x01}) + le16(3) + bytes({1}), 1, types, {}).ok())
      << "truncated value";
  EXPECT_TRUE(decode_execute_parameters("", 0, types, {})->empty());
}

}  // namespace
}  // namespace tp::db
