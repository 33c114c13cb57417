#include "protocol/mysql/response_tracker.h"

#include <gtest/gtest.h>

#include <vector>

#include "fixtures.h"

namespace tp::mysql {
namespace {

using testing::bytes;

constexpr uint64_t kBase = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_MULTI_RESULTS;
constexpr uint64_t kNewEof = kBase | CLIENT_DEPRECATE_EOF;

std::string ok(uint16_t status, uint8_t affected = 0, uint8_t header = 0x00) {
  return bytes({header, affected, 0x00, status & 0xFF, status >> 8, 0x00, 0x00});
}
std::string eof(uint16_t status) {
  return bytes({0xfe, 0x00, 0x00, status & 0xFF, status >> 8});
}
std::string err(uint16_t code) {
  return bytes({0xff, code & 0xFF, code >> 8, '#', '4', '2', 'S', '0', '2'}) + "Table doesn't exist";
}
std::string column_def(const std::string& name) {
  return bytes({0x03}) + "def" + bytes({0x00, 0x00, 0x00, int(name.size())}) + name +
         bytes({0x00, 0x0c, 0x21, 0x00, 0x0b, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0});
}
std::string text_row(const std::string& v) {
  return bytes({int(v.size())}) + v;
}

// Feeds packets; expects the response to be incomplete until the last one.
ResponseSummary run(ResponseTracker& t, const std::vector<std::string>& packets) {
  for (size_t i = 0; i < packets.size(); ++i) {
    auto e = t.on_packet(packets[i]);
    EXPECT_TRUE(e.ok()) << "packet " << i << ": " << (e.ok() ? "" : e.error().message);
    if (!e.ok()) return {};
    if (i + 1 < packets.size()) {
      EXPECT_FALSE(e->complete.has_value()) << "completed early at packet " << i;
    } else {
      EXPECT_TRUE(e->complete.has_value()) << "not complete after the last packet";
      if (e->complete) {
        EXPECT_TRUE(t.idle());
        return *e->complete;
      }
    }
  }
  return {};
}

TEST(MysqlResponseTracker, OkAndErr) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_FALSE(t.idle());
  ResponseSummary s = run(t, {ok(SERVER_STATUS_AUTOCOMMIT, 4)});
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.affected_rows, 4u);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  s = run(t, {err(1146)});
  EXPECT_FALSE(s.ok);
  ASSERT_TRUE(s.error.has_value());
  EXPECT_EQ(s.error->error_code, 1146);
  EXPECT_EQ(s.error->sql_state, "42S02");
}

TEST(MysqlResponseTracker, TextResultSetWithEof) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  const ResponseSummary s = run(t, {bytes({0x02}), column_def("id"), column_def("name"), eof(0x0002),
                                    text_row("1"), text_row("2"), text_row("3"), eof(0x0002)});
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.rows, 3u);
  EXPECT_EQ(s.result_sets, 1u);
}

TEST(MysqlResponseTracker, TextResultSetWithDeprecateEof) {
  ResponseTracker t(kNewEof);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  // No EOF after the definitions; the rows end with an OK_Packet carrying a 0xFE header.
  const ResponseSummary s =
      run(t, {bytes({0x01}), column_def("x"), text_row("a"), text_row("b"), ok(0x0002, 0, 0xfe)});
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.rows, 2u);
}

TEST(MysqlResponseTracker, EmptyResultSetAndNullRow) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_EQ(run(t, {bytes({0x01}), column_def("x"), eof(2), eof(2)}).rows, 0u);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  // A row holding SQL NULL starts with 0xFB: still a row.
  EXPECT_EQ(run(t, {bytes({0x01}), column_def("x"), eof(2), bytes({0xfb}), eof(2)}).rows, 1u);
}

TEST(MysqlResponseTracker, MultiResults) {
  for (uint64_t caps : {kBase, kNewEof}) {
    const bool deprecate = caps & CLIENT_DEPRECATE_EOF;
    auto end = [&](uint16_t status) { return deprecate ? ok(status, 0, 0xfe) : eof(status); };
    ResponseTracker t(caps);
    ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
    std::vector<std::string> packets = {bytes({0x01}), column_def("a")};
    if (!deprecate) packets.push_back(eof(0x000a));
    packets.push_back(text_row("1"));
    packets.push_back(end(0x000a));    // SERVER_MORE_RESULTS_EXISTS: another result follows
    packets.push_back(ok(0x000a, 2));  // an UPDATE in between
    packets.push_back(bytes({0x01}));
    packets.push_back(column_def("b"));
    if (!deprecate) packets.push_back(eof(0x0002));
    packets.push_back(text_row("2"));
    packets.push_back(text_row("3"));
    packets.push_back(end(0x0002));
    const ResponseSummary s = run(t, packets);
    EXPECT_TRUE(s.ok);
    EXPECT_EQ(s.result_sets, 2u);
    EXPECT_EQ(s.rows, 3u);
    EXPECT_EQ(s.affected_rows, 2u);
  }
}

TEST(MysqlResponseTracker, ErrorAfterRowsOrBetweenResults) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_FALSE(run(t, {bytes({0x01}), column_def("a"), eof(2), text_row("1"), err(1317)}).ok);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_FALSE(run(t, {ok(0x000a), err(1064)}).ok);
}

TEST(MysqlResponseTracker, RowsAreNotNeededWhole) {
  ResponseTracker t(kNewEof);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_TRUE(t.wants_payload(0x01, 1));  // column count
  ASSERT_TRUE(t.on_packet(bytes({0x01})).ok());
  EXPECT_FALSE(t.wants_payload(0x03, 40));  // column definition
  ASSERT_TRUE(t.on_packet(std::string_view("\x03", 1), 40).ok());
  EXPECT_FALSE(t.wants_payload(0x05, 1000));  // row
  // A text row of >= 16 MiB whose first field is long enough to start with 0xFE is still a row.
  EXPECT_FALSE(t.wants_payload(0xfe, kMaxPacketChunk));
  auto big = t.on_packet(std::string_view("\xfe", 1), kMaxPacketChunk + 100);
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->complete);
  EXPECT_TRUE(t.wants_payload(0xfe, 7));
  EXPECT_TRUE(t.wants_payload(0xff, 30));
  auto done = t.on_packet(ok(2, 0, 0xfe));
  ASSERT_TRUE(done.ok() && done->complete);
  EXPECT_EQ(done->complete->rows, 1u);
}

TEST(MysqlResponseTracker, LocalInfile) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  auto request = t.on_packet(bytes({0xfb}) + "data.csv");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->local_infile_filename, "data.csv");
  EXPECT_FALSE(request->complete);
  const ResponseSummary s = run(t, {ok(2, 5)});
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.affected_rows, 5u);
}

TEST(MysqlResponseTracker, BinaryResultSetAndCursor) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kBinaryResultSet).ok());
  // Binary rows start with 0x00, which must not be mistaken for an OK_Packet.
  EXPECT_EQ(run(t, {bytes({0x01}), column_def("a"), eof(2), bytes({0x00, 0x00, 0x01}), eof(2)}).rows, 1u);

  // A cursor: the definitions' EOF carries SERVER_STATUS_CURSOR_EXISTS and no rows follow.
  ASSERT_TRUE(t.begin(ResponseShape::kBinaryResultSet).ok());
  const ResponseSummary cursor = run(t, {bytes({0x01}), column_def("a"), eof(0x0042)});
  EXPECT_TRUE(cursor.status_flags & SERVER_STATUS_CURSOR_EXISTS);
  // Then COM_STMT_FETCH streams rows and a terminator.
  ASSERT_TRUE(t.begin(ResponseShape::kRows).ok());
  EXPECT_EQ(run(t, {bytes({0x00, 0x00, 0x01}), bytes({0x00, 0x00, 0x02}), eof(0x00c2)}).rows, 2u);

  // Under CLIENT_DEPRECATE_EOF the cursor is announced by an OK terminator right after metadata.
  ResponseTracker n(kNewEof);
  ASSERT_TRUE(n.begin(ResponseShape::kBinaryResultSet).ok());
  EXPECT_EQ(run(n, {bytes({0x01}), column_def("a"), ok(0x0042, 0, 0xfe)}).rows, 0u);
}

TEST(MysqlResponseTracker, StmtPrepare) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kStmtPrepare).ok());
  const std::string prepare_ok = bytes(
      {0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00});  // id 1, 2 cols, 1 param
  const ResponseSummary s =
      run(t, {prepare_ok, column_def("?"), eof(2), column_def("a"), column_def("b"), eof(2)});
  ASSERT_TRUE(s.prepare_ok.has_value());
  EXPECT_EQ(s.prepare_ok->statement_id, 1u);

  ResponseTracker n(kNewEof);
  ASSERT_TRUE(n.begin(ResponseShape::kStmtPrepare).ok());
  run(n, {prepare_ok, column_def("?"), column_def("a"), column_def("b")});
  // No parameters and no columns: just the PREPARE_OK.
  ASSERT_TRUE(t.begin(ResponseShape::kStmtPrepare).ok());
  run(t, {bytes({0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})});
  // Parameters only.
  ASSERT_TRUE(t.begin(ResponseShape::kStmtPrepare).ok());
  run(t, {bytes({0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00}), column_def("?"),
          column_def("?"), eof(2)});
  ASSERT_TRUE(t.begin(ResponseShape::kStmtPrepare).ok());
  EXPECT_FALSE(run(t, {err(1064)}).ok);
}

TEST(MysqlResponseTracker, OptionalMetadata) {
  // MySQL CLIENT_OPTIONAL_RESULTSET_METADATA with metadata_follows = 0: no definitions, no EOF.
  ResponseTracker t(kBase | CLIENT_OPTIONAL_RESULTSET_METADATA);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_EQ(run(t, {bytes({0x02, 0x00}), text_row("1"), eof(2)}).rows, 1u);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_EQ(run(t, {bytes({0x01, 0x01}), column_def("a"), eof(2), text_row("1"), eof(2)}).rows, 1u);
  ASSERT_TRUE(t.begin(ResponseShape::kStmtPrepare).ok());
  run(t, {bytes({0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00})});

  // MariaDB cached metadata: definitions skipped, but the EOF stays.
  ResponseTracker m(kBase | MARIADB_CLIENT_CACHE_METADATA);
  ASSERT_TRUE(m.begin(ResponseShape::kBinaryResultSet).ok());
  EXPECT_EQ(run(m, {bytes({0x02, 0x00}), eof(2), bytes({0x00, 0x00}), eof(2)}).rows, 1u);
}

TEST(MysqlResponseTracker, MariaDbProgressReportsAreNotTheEnd) {
  ResponseTracker t(kBase | MARIADB_CLIENT_PROGRESS);
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  const std::string progress = bytes({0xff, 0xff, 0xff, 0x01, 0x01, 0x02, 0x10, 0x27, 0x00, 0x00, 0x00});
  EXPECT_TRUE(run(t, {progress, progress, ok(2)}).ok);
}

TEST(MysqlResponseTracker, OtherShapes) {
  ResponseTracker t(kBase);
  ASSERT_TRUE(t.begin(ResponseShape::kOkOrErr).ok());
  EXPECT_TRUE(run(t, {ok(2)}).ok);
  ASSERT_TRUE(t.begin(ResponseShape::kOkOrErr).ok());
  EXPECT_TRUE(run(t, {eof(2)}).ok);  // COM_SET_OPTION answers with EOF
  ASSERT_TRUE(t.begin(ResponseShape::kColumnList).ok());
  EXPECT_TRUE(run(t, {column_def("a"), column_def("b"), eof(2)}).ok);
  ASSERT_TRUE(t.begin(ResponseShape::kSinglePacket).ok());
  EXPECT_TRUE(run(t, {"Uptime: 10  Threads: 1"}).ok);
  ASSERT_TRUE(t.begin(ResponseShape::kAuthExchange).ok());
  EXPECT_TRUE(
      run(t, {bytes({0xfe}) + "caching_sha2_password" + bytes({0}) + "salt", bytes({0x01, 0x03}), ok(2)}).ok);
  ASSERT_TRUE(t.begin(ResponseShape::kAuthExchange).ok());
  EXPECT_FALSE(run(t, {err(1045)}).ok);

  ASSERT_TRUE(t.begin(ResponseShape::kNone).ok());
  EXPECT_TRUE(t.idle());
  EXPECT_FALSE(t.begin(ResponseShape::kUnsupported).ok());
  EXPECT_EQ(response_shape(CommandType::kQuery), ResponseShape::kTextResultSet);
  EXPECT_EQ(response_shape(CommandType::kStmtClose), ResponseShape::kNone);
  EXPECT_EQ(response_shape(CommandType::kPing), ResponseShape::kOkOrErr);
  EXPECT_EQ(response_shape(CommandType::kBinlogDump), ResponseShape::kUnsupported);
}

TEST(MysqlResponseTracker, OutOfSyncPacketsAreErrors) {
  ResponseTracker t(kBase);
  EXPECT_FALSE(t.on_packet(ok(2)).ok());  // nothing outstanding
  ASSERT_TRUE(t.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_FALSE(t.begin(ResponseShape::kTextResultSet).ok());  // still busy
  EXPECT_FALSE(t.on_packet("").ok());
  ResponseTracker u(kBase);
  ASSERT_TRUE(u.begin(ResponseShape::kTextResultSet).ok());
  ASSERT_TRUE(u.on_packet(bytes({0x01})).ok());
  ASSERT_TRUE(u.on_packet(column_def("a")).ok());
  auto not_eof = u.on_packet(text_row("x"));  // the EOF is missing
  ASSERT_FALSE(not_eof.ok());
  EXPECT_NE(not_eof.error().message.find("EOF_Packet after the column definitions"), std::string::npos);
  ResponseTracker z(kBase);
  ASSERT_TRUE(z.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_FALSE(z.on_packet(bytes({0x00})).ok());  // truncated OK
  ResponseTracker c(kBase);
  ASSERT_TRUE(c.begin(ResponseShape::kTextResultSet).ok());
  EXPECT_FALSE(c.on_packet(bytes({0xfc, 0x01})).ok());  // truncated column count
}

}  // namespace
}  // namespace tp::mysql
