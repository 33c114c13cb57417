#include "protocol/mysql/response.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace tp::mysql {
namespace {

using testing::bytes;
using testing::expect_prefixes_fail;

constexpr uint64_t k41 = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS;

TEST(MysqlOkPacket, DecodesProtocol41) {
  // header, affected rows 3, last insert id 0x1234 (lenenc 0xfc), status, warnings, info
  const std::string p = bytes({0x00, 0x03, 0xfc, 0x34, 0x12, 0x02, 0x00, 0x01, 0x00}) + "Rows matched: 3";
  auto ok = parse_ok_packet(p, k41);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->affected_rows, 3u);
  EXPECT_EQ(ok->last_insert_id, 0x1234u);
  EXPECT_EQ(ok->status_flags, SERVER_STATUS_AUTOCOMMIT);
  EXPECT_EQ(ok->warnings, 1);
  EXPECT_EQ(ok->info, "Rows matched: 3");
  EXPECT_EQ(encode_ok_packet(*ok, k41), p);
  expect_prefixes_fail(p, 9, [](std::string_view s) { return parse_ok_packet(s, k41); });
  EXPECT_TRUE(is_ok_packet(p));
  EXPECT_FALSE(is_ok_packet(bytes({0x00, 0x00})));
}

TEST(MysqlOkPacket, SessionTrackLayout) {
  const uint64_t caps = k41 | CLIENT_SESSION_TRACK;
  OkPacket ok;
  ok.status_flags = SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED;
  ok.info = "info";
  ok.session_state_changes = bytes({0x01, 0x05, 0x04, 't', 'e', 's', 't'});
  const std::string p = encode_ok_packet(ok, caps);
  EXPECT_EQ(p, bytes({0x00, 0x00, 0x00, 0x02, 0x40, 0x00, 0x00, 0x04, 'i', 'n', 'f', 'o', 0x07}) +
                   ok.session_state_changes);
  auto back = parse_ok_packet(p, caps);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->info, "info");
  EXPECT_EQ(back->session_state_changes, ok.session_state_changes);
  expect_prefixes_fail(p, 7, [caps](std::string_view s) { return parse_ok_packet(s, caps); });
  // The server leaves out an empty info when no state changed.
  auto minimal = parse_ok_packet(bytes({0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}), caps);
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->info, "");
}

TEST(MysqlOkPacket, TerminatorWithFeHeader) {
  const std::string p = bytes({0xfe, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00});
  auto ok = parse_ok_packet(p, k41);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->header, 0xfe);
  EXPECT_EQ(ok->status_flags, SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS);
  EXPECT_EQ(*parse_terminator_status(p, k41 | CLIENT_DEPRECATE_EOF), 0x0a);
  EXPECT_FALSE(parse_ok_packet(bytes({0x01, 0x00, 0x00}), k41).ok());
}

TEST(MysqlErrPacket, DecodesAndEncodes) {
  const std::string p = bytes({0xff, 0x15, 0x04, '#'}) + "28000" + "Access denied for user 'bob'";
  auto err = parse_err_packet(p, k41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1045);
  EXPECT_EQ(err->sql_state, "28000");
  EXPECT_EQ(err->message, "Access denied for user 'bob'");
  EXPECT_EQ(encode_err_packet(*err, k41), p);
  expect_prefixes_fail(p, 3, [](std::string_view s) { return parse_err_packet(s, k41); });
  // '#' present but the SQLSTATE cut short.
  for (size_t n = 4; n < 9; ++n) EXPECT_FALSE(parse_err_packet(p.substr(0, n), k41).ok()) << n;
  EXPECT_TRUE(is_err_packet(p));
}

TEST(MysqlErrPacket, WithoutSqlStateBeforeHandshake) {
  const std::string p = bytes({0xff, 0x69, 0x04}) + "Host 'x' is not allowed to connect";
  auto err = parse_err_packet(p, 0);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1129);
  EXPECT_EQ(err->sql_state, "");
  EXPECT_EQ(err->message, "Host 'x' is not allowed to connect");
  EXPECT_EQ(encode_err_packet(ErrPacket{1129, "", "Host 'x' is not allowed to connect"}, 0), p);
  // A malformed SQLSTATE is replaced rather than shifting the message.
  EXPECT_EQ(encode_err_packet(ErrPacket{1, "bad", "m"}, k41), bytes({0xff, 0x01, 0x00, '#'}) + "HY000m");
}

TEST(MysqlEofPacket, DecodesAndEncodes) {
  const std::string p = bytes({0xfe, 0x01, 0x00, 0x22, 0x00});
  ASSERT_TRUE(is_eof_packet(p));
  auto eof = parse_eof_packet(p, k41);
  ASSERT_TRUE(eof.ok());
  EXPECT_EQ(eof->warnings, 1);
  EXPECT_EQ(eof->status_flags, SERVER_STATUS_AUTOCOMMIT | SERVER_QUERY_NO_INDEX_USED);
  EXPECT_EQ(encode_eof_packet(*eof, k41), p);
  EXPECT_EQ(*parse_terminator_status(p, k41), 0x22);
  expect_prefixes_fail(p, p.size(), [](std::string_view s) { return parse_eof_packet(s, k41); });
  EXPECT_EQ(encode_eof_packet({}, 0), bytes({0xfe}));
  // 9 bytes or more starting with 0xfe is not an EOF.
  const std::string long_fe = bytes({0xfe, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(is_eof_packet(long_fe));
  EXPECT_FALSE(parse_eof_packet(long_fe, k41).ok());
}

TEST(MysqlEofPacket, TerminatorNeedsLengthBelowChunk) {
  EXPECT_TRUE(is_result_set_terminator(0xfe, 7));
  EXPECT_TRUE(is_result_set_terminator(0xfe, kMaxPacketChunk - 1));
  EXPECT_FALSE(is_result_set_terminator(0xfe, kMaxPacketChunk));  // a row with a >= 16 MiB field
  EXPECT_FALSE(is_result_set_terminator(0x00, 7));
}

TEST(MysqlStmtPrepareOk, DecodesAndEncodes) {
  const std::string p = bytes({0x00, 0x07, 0x00, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x01, 0x00});
  auto ok = parse_stmt_prepare_ok(p, k41);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->statement_id, 7u);
  EXPECT_EQ(ok->num_columns, 2);
  EXPECT_EQ(ok->num_params, 3);
  EXPECT_EQ(ok->warnings, 1);
  EXPECT_FALSE(ok->metadata_follows.has_value());
  EXPECT_EQ(encode_stmt_prepare_ok(*ok, k41), p);
  expect_prefixes_fail(p, 10, [](std::string_view s) { return parse_stmt_prepare_ok(s, k41); });

  const uint64_t optional_meta = k41 | CLIENT_OPTIONAL_RESULTSET_METADATA;
  auto with_meta = parse_stmt_prepare_ok(p + bytes({0x00}), optional_meta);
  ASSERT_TRUE(with_meta.ok());
  EXPECT_EQ(with_meta->metadata_follows, 0);
  EXPECT_EQ(encode_stmt_prepare_ok(*with_meta, optional_meta), p + bytes({0x00}));
}

TEST(MysqlLocalInfile, DecodesFilename) {
  auto name = parse_local_infile_request(bytes({0xfb}) + "/etc/passwd");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "/etc/passwd");
  EXPECT_FALSE(parse_local_infile_request("").ok());
  EXPECT_FALSE(parse_local_infile_request(bytes({0x00})).ok());
}

}  // namespace
}  // namespace tp::mysql
