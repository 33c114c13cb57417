// Generic server responses (dev.mysql.com "Generic Response Packets": OK_Packet, ERR_Packet,
// EOF_Packet), COM_STMT_PREPARE_OK and the LOCAL INFILE request. Layouts depend on the negotiated
// capabilities, so parsers and encoders take them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/mysql/constants.h"

namespace tp::mysql {

// OK_Packet: int<1> header (0x00, or 0xFE when it ends a result set under CLIENT_DEPRECATE_EOF),
// int<lenenc> affected_rows, int<lenenc> last_insert_id, then with CLIENT_PROTOCOL_41 int<2>
// status_flags + int<2> warnings (with only CLIENT_TRANSACTIONS: int<2> status_flags), then with
// CLIENT_SESSION_TRACK string<lenenc> info (+ string<lenenc> session state changes when
// SERVER_SESSION_STATE_CHANGED), else string<EOF> info.
struct OkPacket {
  uint8_t header = kOkHeader;
  uint64_t affected_rows = 0;
  uint64_t last_insert_id = 0;
  uint16_t status_flags = 0;
  uint16_t warnings = 0;
  std::string info;
  std::string session_state_changes;  // raw, only with CLIENT_SESSION_TRACK
};
Result<OkPacket> parse_ok_packet(std::string_view payload, uint64_t capabilities);
std::string encode_ok_packet(const OkPacket& ok, uint64_t capabilities);
// 0x00 header and at least the 7 bytes of a minimal OK_Packet.
bool is_ok_packet(std::string_view payload);

// ERR_Packet: int<1> 0xFF, int<2> error_code, with CLIENT_PROTOCOL_41 string[1] '#' + string[5]
// sql_state, then string<EOF> error_message. Errors sent before the capabilities are known (in
// place of the greeting) have no SQLSTATE; pass capabilities 0 for those.
struct ErrPacket {
  uint16_t error_code = 0;
  std::string sql_state = "HY000";  // five characters; encoders use HY000 for anything else
  std::string message;
};
Result<ErrPacket> parse_err_packet(std::string_view payload, uint64_t capabilities);
std::string encode_err_packet(const ErrPacket& err, uint64_t capabilities);
inline bool is_err_packet(std::string_view payload) {
  return !payload.empty() && static_cast<uint8_t>(payload[0]) == kErrHeader;
}

// EOF_Packet: int<1> 0xFE, with CLIENT_PROTOCOL_41 int<2> warnings + int<2> status_flags. Only a
// 0xFE packet shorter than 9 bytes is an EOF (longer ones are rows or an AuthSwitchRequest).
struct EofPacket {
  uint16_t warnings = 0;
  uint16_t status_flags = 0;
};
Result<EofPacket> parse_eof_packet(std::string_view payload, uint64_t capabilities);
std::string encode_eof_packet(const EofPacket& eof, uint64_t capabilities);
inline bool is_eof_packet(std::string_view payload) {
  return !payload.empty() && static_cast<uint8_t>(payload[0]) == kEofHeader && payload.size() < 9;
}

// A packet that may end a result set: 0xFE header and shorter than 0xFFFFFF (a text row starting
// with 0xFE is a field of >= 16 MiB, so its packet is at least that long).
inline bool is_result_set_terminator(uint8_t first_byte, size_t length) {
  return first_byte == kEofHeader && length < kMaxPacketChunk;
}

// The status flags of a result set terminator: an OK_Packet with 0xFE header under
// CLIENT_DEPRECATE_EOF, an EOF_Packet otherwise.
Result<uint16_t> parse_terminator_status(std::string_view payload, uint64_t capabilities);

// COM_STMT_PREPARE_OK ("COM_STMT_PREPARE Response"): int<1> 0x00, int<4> statement_id, int<2>
// num_columns, int<2> num_params, int<1> reserved, then if longer than 12 bytes int<2>
// warning_count and, with CLIENT_OPTIONAL_RESULTSET_METADATA, int<1> metadata_follows.
struct StmtPrepareOk {
  uint32_t statement_id = 0;
  uint16_t num_columns = 0;
  uint16_t num_params = 0;
  uint16_t warnings = 0;
  std::optional<uint8_t> metadata_follows;  // RESULTSET_METADATA_NONE (0) or _FULL (1)
};
Result<StmtPrepareOk> parse_stmt_prepare_ok(std::string_view payload, uint64_t capabilities);
std::string encode_stmt_prepare_ok(const StmtPrepareOk& ok, uint64_t capabilities);

// LOCAL INFILE Request ("COM_QUERY Response"): int<1> 0xFB, string<EOF> filename. The server asks
// the client to send that file's contents.
Result<std::string> parse_local_infile_request(std::string_view payload);

}  // namespace tp::mysql
