#include "protocol/mysql/decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"

namespace tp::mysql {
namespace {

using ::testing::_;
using ::testing::AllOf;
using testing::bytes;
using ::testing::Field;
using testing::frame;
using ::testing::InSequence;
using testing::le32;
using ::testing::StrictMock;

class MockCallbacks : public DecoderCallbacks {
 public:
  MOCK_METHOD(void, on_command, (const Command&), (override));
  MOCK_METHOD(void, on_query, (std::string_view), (override));
  MOCK_METHOD(void, on_init_db, (std::string_view), (override));
  MOCK_METHOD(void, on_change_user, (const ChangeUser&), (override));
  MOCK_METHOD(void, on_stmt_prepare, (std::string_view), (override));
  MOCK_METHOD(void, on_stmt_execute, (uint32_t), (override));
  MOCK_METHOD(void, on_stmt_close, (uint32_t), (override));
  MOCK_METHOD(void, on_stmt_reset, (uint32_t), (override));
  MOCK_METHOD(void, on_process_kill, (uint32_t), (override));
  MOCK_METHOD(void, on_quit, (), (override));
  MOCK_METHOD(void, on_stmt_prepare_ok, (const StmtPrepareOk&, std::string_view), (override));
  MOCK_METHOD(void, on_local_infile_request, (std::string_view), (override));
  MOCK_METHOD(void, on_response_complete, (CommandType, const ResponseSummary&), (override));
};

constexpr uint64_t kCaps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                           CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_DEPRECATE_EOF;

Packet client(const std::string& payload, uint8_t seq = 0) {
  return Packet{seq, seq, payload};
}
std::string ok_eof(uint16_t status = 2) {
  return bytes({0xfe, 0x00, 0x00, status & 0xFF, status >> 8, 0x00, 0x00});
}
std::string ok_packet(uint8_t affected = 0) {
  return bytes({0x00, affected, 0x00, 0x02, 0x00, 0x00, 0x00});
}
std::string column_def() {
  return bytes({0x03, 'd', 'e', 'f', 0, 0, 0, 1, 'a', 0, 0x0c, 0x21, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0});
}

// A whole SELECT response: 1 column, 2 rows, OK terminator (CLIENT_DEPRECATE_EOF).
std::string select_response() {
  return frame(bytes({0x01}), 1) + frame(column_def(), 2) + frame(bytes({0x01, '1'}), 3) +
         frame(bytes({0x01, '2'}), 4) + frame(ok_eof(), 5);
}

auto Summary(bool ok, uint64_t rows) {
  return AllOf(Field(&ResponseSummary::ok, ok), Field(&ResponseSummary::rows, rows));
}

TEST(MysqlDecoder, QueryAndResponse) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, kCaps);
  {
    InSequence seq;
    EXPECT_CALL(cb, on_command(Field(&Command::type, CommandType::kQuery)));
    EXPECT_CALL(cb, on_query(std::string_view("SELECT a FROM t")));
    EXPECT_CALL(cb, on_response_complete(CommandType::kQuery, Summary(true, 2)));
  }
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x03}) + "SELECT a FROM t")).ok());
  EXPECT_FALSE(d.server_idle());
  ASSERT_TRUE(d.on_server_data(select_response()).ok());
  EXPECT_TRUE(d.server_idle());
}

// The same response fed in every possible two-piece split, and one byte at a time.
TEST(MysqlDecoder, ServerBytesInAnyChunking) {
  const std::string wire = select_response();
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    ::testing::NiceMock<MockCallbacks> cb;
    EXPECT_CALL(cb, on_response_complete(CommandType::kQuery, Summary(true, 2))).Times(1);
    Decoder d(cb, kCaps);
    ASSERT_TRUE(d.on_client_packet(client(bytes({0x03}) + "SELECT 1")).ok());
    ASSERT_TRUE(d.on_server_data(std::string_view(wire).substr(0, cut)).ok()) << cut;
    EXPECT_EQ(d.server_idle(), cut == wire.size()) << cut;
    ASSERT_TRUE(d.on_server_data(std::string_view(wire).substr(cut)).ok()) << cut;
    EXPECT_TRUE(d.server_idle());
  }
  ::testing::NiceMock<MockCallbacks> cb;
  EXPECT_CALL(cb, on_response_complete(_, Summary(true, 2))).Times(1);
  Decoder d(cb, kCaps);
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x03}) + "SELECT 1")).ok());
  for (char c : wire) ASSERT_TRUE(d.on_server_data(std::string_view(&c, 1)).ok());
  EXPECT_TRUE(d.server_idle());
}

TEST(MysqlDecoder, HugeRowIsSkippedWithoutBuffering) {
  ::testing::NiceMock<MockCallbacks> cb;
  EXPECT_CALL(cb, on_response_complete(CommandType::kQuery, Summary(true, 1)));
  Decoder d(cb, kCaps, /*max_packet_size=*/1024);  // far below the row size
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x03}) + "SELECT blob")).ok());
  ASSERT_TRUE(d.on_server_data(frame(bytes({0x01}), 1) + frame(column_def(), 2)).ok());
  // A 16 MiB + 10 byte row whose first field starts with 0xFE (an 8-byte length), sent in two
  // physical packets.
  std::string row(kMaxPacketChunk + 10, 'r');
  row[0] = '\xfe';
  const std::string wire = encode_packet(row, 3);
  for (size_t off = 0; off < wire.size(); off += 1 << 20) {
    ASSERT_TRUE(d.on_server_data(std::string_view(wire).substr(off, 1 << 20)).ok());
  }
  EXPECT_FALSE(d.server_idle());
  ASSERT_TRUE(d.on_server_data(frame(ok_eof(), 5)).ok());
  EXPECT_TRUE(d.server_idle());
}

TEST(MysqlDecoder, OversizedPacketThatMustBeParsedIsAnError) {
  ::testing::NiceMock<MockCallbacks> cb;
  Decoder d(cb, kCaps, 16);
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x0e}))).ok());
  auto s = d.on_server_data(frame(bytes({0x00}) + std::string(20, 'x'), 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kLimitExceeded);
  EXPECT_FALSE(d.on_server_data(frame(ok_packet(), 1)).ok());  // stays failed
}

TEST(MysqlDecoder, PreparedStatementLifecycle) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, kCaps);
  {
    InSequence seq;
    EXPECT_CALL(cb, on_command(_));
    EXPECT_CALL(cb, on_stmt_prepare(std::string_view("SELECT ?")));
    EXPECT_CALL(cb,
                on_stmt_prepare_ok(Field(&StmtPrepareOk::statement_id, 7u), std::string_view("SELECT ?")));
    EXPECT_CALL(cb, on_response_complete(CommandType::kStmtPrepare, Summary(true, 0)));
    EXPECT_CALL(cb, on_command(_));
    EXPECT_CALL(cb, on_stmt_execute(7u));
    EXPECT_CALL(cb, on_response_complete(CommandType::kStmtExecute, Summary(true, 1)));
    EXPECT_CALL(cb, on_command(_));
    EXPECT_CALL(cb, on_stmt_close(7u));
  }
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x16}) + "SELECT ?")).ok());
  const std::string prepare_ok = bytes({0x00}) + le32(7) + bytes({0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00});
  ASSERT_TRUE(d.on_server_data(frame(prepare_ok, 1) + frame(column_def(), 2) + frame(column_def(), 3)).ok());
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x17}) + le32(7) + bytes({0x00}) + le32(1))).ok());
  ASSERT_TRUE(d.on_server_data(frame(bytes({0x01}), 1) + frame(column_def(), 2) +
                               frame(bytes({0x00, 0x00, 0x05}), 3) + frame(ok_eof(), 4))
                  .ok());
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x19}) + le32(7))).ok());
  EXPECT_TRUE(d.server_idle());  // COM_STMT_CLOSE has no response
}

TEST(MysqlDecoder, PipelinedCommandsCompleteInOrder) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, kCaps);
  EXPECT_CALL(cb, on_command(_)).Times(3);
  EXPECT_CALL(cb, on_init_db(std::string_view("sales")));
  EXPECT_CALL(cb, on_query(_));
  {
    InSequence seq;
    EXPECT_CALL(cb, on_response_complete(CommandType::kPing, _));
    EXPECT_CALL(cb, on_response_complete(CommandType::kInitDb, Field(&ResponseSummary::ok, false)));
    EXPECT_CALL(cb, on_response_complete(CommandType::kQuery, Summary(true, 2)));
  }
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x0e}))).ok());
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x02}) + "sales")).ok());
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x03}) + "SELECT 1")).ok());
  EXPECT_EQ(d.pending_responses(), 3u);
  const std::string err =
      bytes({0xff, 0x19, 0x04, '#', '4', '2', '0', '0', '0'}) + "Unknown database 'sales'";
  ASSERT_TRUE(d.on_server_data(frame(ok_packet(), 1) + frame(err, 1) + select_response()).ok());
  EXPECT_TRUE(d.server_idle());
}

TEST(MysqlDecoder, LocalInfileDataIsNotParsedAsCommands) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, kCaps);
  EXPECT_CALL(cb, on_command(_));
  EXPECT_CALL(cb, on_query(_));
  EXPECT_CALL(cb, on_local_infile_request(std::string_view("rows.csv")));
  EXPECT_CALL(cb, on_response_complete(CommandType::kQuery, Field(&ResponseSummary::affected_rows, 2u)));
  ASSERT_TRUE(
      d.on_client_packet(client(bytes({0x03}) + "LOAD DATA LOCAL INFILE 'rows.csv' INTO TABLE t")).ok());
  ASSERT_TRUE(d.on_server_data(frame(bytes({0xfb}) + "rows.csv", 1)).ok());
  // File contents; one packet even has sequence id 0 (ids wrap after 255) and looks like COM_QUERY.
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x03}) + "1,2\n", 2)).ok());
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x03}) + "3,4\n", 0)).ok());
  ASSERT_TRUE(d.on_client_packet(client("", 1)).ok());  // end of file
  ASSERT_TRUE(d.on_server_data(frame(ok_packet(2), 2)).ok());
  EXPECT_TRUE(d.server_idle());
}

TEST(MysqlDecoder, ChangeUserAuthExchange) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, kCaps);
  EXPECT_CALL(cb, on_command(_));
  EXPECT_CALL(cb, on_change_user(Field(&ChangeUser::username, "mallory")));
  EXPECT_CALL(cb, on_response_complete(CommandType::kChangeUser, Field(&ResponseSummary::ok, true)));
  const std::string change_user = bytes({0x11}) + std::string("mallory\0", 8) + bytes({0x00}) +
                                  std::string("db\0", 3) + bytes({0x2d, 0x00}) +
                                  std::string("mysql_native_password\0", 22);
  ASSERT_TRUE(d.on_client_packet(client(change_user)).ok());
  ASSERT_TRUE(
      d.on_server_data(frame(bytes({0xfe}) + std::string("caching_sha2_password\0", 22) + "salt", 1)).ok());
  ASSERT_TRUE(d.on_client_packet(client(std::string(32, 'x'), 2)).ok());  // auth data, not a command
  ASSERT_TRUE(d.on_server_data(frame(bytes({0x01, 0x03}), 3) + frame(ok_packet(), 4)).ok());
  EXPECT_TRUE(d.server_idle());
}

TEST(MysqlDecoder, QuitAndKill) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, kCaps);
  EXPECT_CALL(cb, on_command(_)).Times(2);
  EXPECT_CALL(cb, on_process_kill(42u));
  EXPECT_CALL(cb, on_response_complete(CommandType::kProcessKill, _));
  EXPECT_CALL(cb, on_quit());
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x0c}) + le32(42))).ok());
  ASSERT_TRUE(d.on_server_data(frame(ok_packet(), 1)).ok());
  ASSERT_TRUE(d.on_client_packet(client(bytes({0x01}))).ok());
  EXPECT_TRUE(d.server_idle());
}

TEST(MysqlDecoder, ProtocolErrors) {
  ::testing::NiceMock<MockCallbacks> cb;
  {
    Decoder d(cb, kCaps);
    auto s = d.on_client_packet(client(bytes({0x03}), 3));  // stray continuation
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("sequence id 3"), std::string::npos);
  }
  {
    Decoder d(cb, kCaps);
    EXPECT_FALSE(d.on_client_packet(client(bytes({0x12}) + le32(4))).ok());  // COM_BINLOG_DUMP
  }
  {
    Decoder d(cb, kCaps);
    const std::string timeout = bytes({0xff, 0xbf, 0x0f, '#', 'H', 'Y', '0', '0', '0'}) + "inactivity";
    auto s = d.on_server_data(frame(timeout, 0));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(s.error().message.find("error 4031"), std::string::npos) << s.error().message;
  }
  {
    Decoder d(cb, kCaps);
    EXPECT_FALSE(d.on_server_data(frame(ok_packet(), 1)).ok());  // unsolicited OK
  }
  {
    Decoder d(cb, kCaps);
    ASSERT_TRUE(d.on_client_packet(client(bytes({0x0e}))).ok());
    EXPECT_FALSE(d.on_server_data(frame("", 1)).ok());  // empty packet
  }
}

}  // namespace
}  // namespace tp::mysql
