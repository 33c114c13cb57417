#include "protocol/mysql/response_tracker.h"

#include "protocol/mysql/wire.h"

namespace tp::mysql {

ResponseShape response_shape(CommandType type) {
  using T = CommandType;
  switch (type) {
    case T::kQuit:
    case T::kStmtClose:
    case T::kStmtSendLongData:
      return ResponseShape::kNone;
    case T::kQuery:
    case T::kProcessInfo:
      return ResponseShape::kTextResultSet;
    case T::kStmtExecute:
    case T::kStmtBulkExecute:
      return ResponseShape::kBinaryResultSet;
    case T::kStmtFetch:
      return ResponseShape::kRows;
    case T::kStmtPrepare:
      return ResponseShape::kStmtPrepare;
    case T::kFieldList:
      return ResponseShape::kColumnList;
    case T::kStatistics:
      return ResponseShape::kSinglePacket;
    case T::kChangeUser:
      return ResponseShape::kAuthExchange;
    case T::kBinlogDump:
    case T::kBinlogDumpGtid:
    case T::kTableDump:
    case T::kClone:
    case T::kSubscribeGroupReplicationStream:
      return ResponseShape::kUnsupported;
    default:
      // COM_INIT_DB, COM_PING, COM_PROCESS_KILL, COM_RESET_CONNECTION, COM_STMT_RESET,
      // COM_SET_OPTION, COM_REFRESH, COM_DEBUG, ... and the server-internal commands, which the
      // server refuses with ERR.
      return ResponseShape::kOkOrErr;
  }
}

Status ResponseTracker::begin(ResponseShape shape) {
  if (!idle()) return internal_error("MySQL response tracker: a response is still in progress");
  summary_ = ResponseSummary{};
  shape_ = shape;
  switch (shape) {
    case ResponseShape::kNone:
      return {};
    case ResponseShape::kUnsupported:
      return invalid_argument(
          "MySQL replication and clone commands are not supported through this connection; connect to the "
          "server directly for replication");
    case ResponseShape::kOkOrErr:
      state_ = State::kSimple;
      return {};
    case ResponseShape::kRows:
      state_ = State::kRows;
      return {};
    case ResponseShape::kColumnList:
      state_ = State::kColumnList;
      return {};
    case ResponseShape::kSinglePacket:
      state_ = State::kSingle;
      return {};
    case ResponseShape::kAuthExchange:
      state_ = State::kAuth;
      return {};
    default:
      state_ = State::kFirst;
      return {};
  }
}

bool ResponseTracker::wants_payload(uint8_t first_byte, size_t first_fragment_length) const {
  switch (state_) {
    case State::kDefinitions:
    case State::kRows:
    case State::kColumnList:
      return first_byte == kErrHeader || is_result_set_terminator(first_byte, first_fragment_length);
    default:
      return true;
  }
}

Error ResponseTracker::unexpected(std::string_view payload, const char* expected) const {
  const int first = payload.empty() ? -1 : static_cast<uint8_t>(payload[0]);
  return invalid_argument("MySQL server sent a packet starting with byte " + std::to_string(first) +
                          " where " + expected + " was expected; the connection is out of sync");
}

ResponseEvent ResponseTracker::finish(std::optional<ErrPacket> error) {
  summary_.ok = !error.has_value();
  summary_.error = std::move(error);
  state_ = State::kIdle;
  ResponseEvent event;
  event.complete = std::move(summary_);
  summary_ = ResponseSummary{};
  return event;
}

Result<ResponseEvent> ResponseTracker::on_error(std::string_view payload) {
  TP_TRY(ErrPacket err, parse_err_packet(payload, capabilities_));
  // A MariaDB progress report looks like an ERR but the statement is still running.
  if (err.error_code == kMariaDbProgressReportCode && (capabilities_ & MARIADB_CLIENT_PROGRESS)) {
    return ResponseEvent{};
  }
  return finish(std::move(err));
}

Result<ResponseEvent> ResponseTracker::on_packet(std::string_view payload, size_t length) {
  if (state_ == State::kIdle) return unexpected(payload, "nothing (no command is outstanding)");
  if (length == 0 || payload.empty()) {
    return invalid_argument(
        "MySQL server sent an empty packet inside a response; the connection is out of sync");
  }
  const uint8_t first = static_cast<uint8_t>(payload[0]);
  if (payload.size() < length && wants_payload(first, length)) {
    return internal_error("MySQL response tracker was given a partial packet it needs whole");
  }
  if (first == kErrHeader) return on_error(payload);

  switch (state_) {
    case State::kFirst:
      return on_first(payload);
    case State::kDefinitions:
      if (--definitions_left_ == 0) {
        if (block_has_eof_) {
          state_ = State::kDefinitionsEof;
          return ResponseEvent{};
        }
        return end_block();
      }
      return ResponseEvent{};
    case State::kDefinitionsEof:
      return on_definitions_eof(payload);
    case State::kRows:
      if (is_result_set_terminator(first, length)) return on_rows_terminator(payload);
      ++summary_.rows;
      return ResponseEvent{};
    case State::kColumnList:
      if (is_result_set_terminator(first, length)) {
        TP_TRY(summary_.status_flags, parse_terminator_status(payload, capabilities_));
        return finish(std::nullopt);
      }
      return ResponseEvent{};
    case State::kSimple:
      if (first == kOkHeader) {
        TP_TRY(OkPacket ok, parse_ok_packet(payload, capabilities_));
        summary_.status_flags = ok.status_flags;
        summary_.affected_rows += ok.affected_rows;
        return finish(std::nullopt);
      }
      if (first == kEofHeader) return finish(std::nullopt);  // COM_SET_OPTION, COM_DEBUG
      return unexpected(payload, "OK_Packet or ERR_Packet");
    case State::kSingle:
      return finish(std::nullopt);
    case State::kAuth:
      if (first == kOkHeader) {
        TP_TRY(OkPacket ok, parse_ok_packet(payload, capabilities_));
        summary_.status_flags = ok.status_flags;
        return finish(std::nullopt);
      }
      // AuthSwitchRequest or AuthMoreData: the client answers, then the server continues.
      if (first == kEofHeader || first == kAuthMoreDataHeader) return ResponseEvent{};
      return unexpected(payload, "OK_Packet, ERR_Packet, AuthSwitchRequest or AuthMoreData");
    case State::kIdle:
      break;
  }
  return unexpected(payload, "nothing");
}

Result<ResponseEvent> ResponseTracker::on_first(std::string_view payload) {
  const uint8_t first = static_cast<uint8_t>(payload[0]);
  if (shape_ == ResponseShape::kStmtPrepare) {
    if (first != kOkHeader) return unexpected(payload, "COM_STMT_PREPARE_OK or ERR_Packet");
    TP_TRY(StmtPrepareOk ok, parse_stmt_prepare_ok(payload, capabilities_));
    summary_.prepare_ok = ok;
    // libmysql reads definitions (each block followed by EOF unless CLIENT_DEPRECATE_EOF) only
    // when metadata is sent; a block with zero entries has no EOF either.
    const bool metadata = ok.metadata_follows.value_or(1) == 1;
    return start_block(Block::kPrepareParams, metadata ? ok.num_params : 0, metadata,
                       !(capabilities_ & CLIENT_DEPRECATE_EOF));
  }
  if (first == kOkHeader) {
    TP_TRY(OkPacket ok, parse_ok_packet(payload, capabilities_));
    summary_.status_flags = ok.status_flags;
    summary_.affected_rows += ok.affected_rows;
    if (ok.status_flags & SERVER_MORE_RESULTS_EXISTS) return ResponseEvent{};
    return finish(std::nullopt);
  }
  if (first == kLocalInfileHeader && shape_ == ResponseShape::kTextResultSet) {
    // The client now streams the file and an empty packet; the server then answers OK or ERR,
    // which this state handles like any first packet.
    TP_TRY(std::string filename, parse_local_infile_request(payload));
    ResponseEvent event;
    event.local_infile_filename = std::move(filename);
    return event;
  }
  if (first == kEofHeader || first == kLocalInfileHeader) {
    return unexpected(payload, "OK_Packet, ERR_Packet or a column count");
  }
  return on_column_count(payload);
}

Result<ResponseEvent> ResponseTracker::on_column_count(std::string_view payload) {
  // The column count packet: int<lenenc> column_count, then (libmysql reads it after the count)
  // int<1> metadata_follows with CLIENT_OPTIONAL_RESULTSET_METADATA (MySQL) or
  // MARIADB_CLIENT_CACHE_METADATA (MariaDB).
  PayloadReader r(payload, "column count packet");
  TP_TRY(uint64_t columns, r.lenenc_int("column count"));
  if (columns == 0) return r.malformed("column count", "a result set has at least one column");
  const bool eof = !(capabilities_ & CLIENT_DEPRECATE_EOF);
  if (capabilities_ & CLIENT_OPTIONAL_RESULTSET_METADATA) {
    TP_TRY(uint8_t follows, r.u8("metadata follows"));
    // MySQL skips the definitions and their EOF together.
    return start_block(Block::kResultColumns, columns, follows == 1, follows == 1 && eof);
  }
  if (capabilities_ & MARIADB_CLIENT_CACHE_METADATA) {
    TP_TRY(uint8_t follows, r.u8("metadata follows"));
    // MariaDB still sends the EOF after (absent) definitions.
    return start_block(Block::kResultColumns, columns, follows == 1, eof);
  }
  return start_block(Block::kResultColumns, columns, true, eof);
}

Result<ResponseEvent> ResponseTracker::start_block(Block block, uint64_t count, bool metadata, bool eof) {
  block_ = block;
  definitions_left_ = metadata ? count : 0;
  // Zero definitions in a prepare response come with no EOF; in a result set the EOF stands alone.
  block_has_eof_ = eof && (definitions_left_ > 0 || block == Block::kResultColumns);
  if (definitions_left_ > 0) {
    state_ = State::kDefinitions;
    return ResponseEvent{};
  }
  if (block_has_eof_) {
    state_ = State::kDefinitionsEof;
    return ResponseEvent{};
  }
  return end_block();
}

Result<ResponseEvent> ResponseTracker::end_block() {
  switch (block_) {
    case Block::kResultColumns:
      state_ = State::kRows;
      return ResponseEvent{};
    case Block::kPrepareParams: {
      const StmtPrepareOk& ok = *summary_.prepare_ok;
      const bool metadata = ok.metadata_follows.value_or(1) == 1;
      return start_block(Block::kPrepareColumns, metadata ? ok.num_columns : 0, metadata,
                         !(capabilities_ & CLIENT_DEPRECATE_EOF));
    }
    case Block::kPrepareColumns:
      break;
  }
  return finish(std::nullopt);
}

Result<ResponseEvent> ResponseTracker::on_definitions_eof(std::string_view payload) {
  if (!is_eof_packet(payload)) return unexpected(payload, "EOF_Packet after the column definitions");
  TP_TRY(EofPacket eof, parse_eof_packet(payload, capabilities_));
  summary_.status_flags = eof.status_flags;
  // COM_STMT_EXECUTE that opened a cursor: no rows follow; the client fetches them with
  // COM_STMT_FETCH. (Under CLIENT_DEPRECATE_EOF the server sends an OK terminator instead.)
  if (block_ == Block::kResultColumns && shape_ == ResponseShape::kBinaryResultSet &&
      (eof.status_flags & SERVER_STATUS_CURSOR_EXISTS)) {
    ++summary_.result_sets;
    return finish(std::nullopt);
  }
  return end_block();
}

Result<ResponseEvent> ResponseTracker::on_rows_terminator(std::string_view payload) {
  TP_TRY(uint16_t status, parse_terminator_status(payload, capabilities_));
  summary_.status_flags = status;
  if (shape_ != ResponseShape::kRows) ++summary_.result_sets;
  if ((status & SERVER_MORE_RESULTS_EXISTS) && shape_ != ResponseShape::kRows) {
    state_ = State::kFirst;
    return ResponseEvent{};
  }
  return finish(std::nullopt);
}

}  // namespace tp::mysql
