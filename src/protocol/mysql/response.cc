#include "protocol/mysql/response.h"

#include "protocol/mysql/wire.h"

namespace tp::mysql {
namespace {

Status expect_header(PayloadReader& r, uint8_t expected) {
  TP_TRY(uint8_t header, r.u8("header"));
  if (header != expected) return r.malformed("header", "unexpected first byte " + std::to_string(header));
  return {};
}

}  // namespace

Result<OkPacket> parse_ok_packet(std::string_view payload, uint64_t capabilities) {
  PayloadReader r(payload, "OK_Packet");
  OkPacket ok;
  TP_TRY(ok.header, r.u8("header"));
  if (ok.header != kOkHeader && ok.header != kEofHeader) return r.malformed("header", "not 0x00 or 0xfe");
  TP_TRY(ok.affected_rows, r.lenenc_int("affected rows"));
  TP_TRY(ok.last_insert_id, r.lenenc_int("last insert id"));
  if (capabilities & CLIENT_PROTOCOL_41) {
    TP_TRY(ok.status_flags, r.u16("status flags"));
    TP_TRY(ok.warnings, r.u16("warnings"));
  } else if (capabilities & CLIENT_TRANSACTIONS) {
    TP_TRY(ok.status_flags, r.u16("status flags"));
  }
  if (capabilities & CLIENT_SESSION_TRACK) {
    // The server omits the info string when it is empty and no session state changed.
    if (!r.at_end()) {
      TP_TRY(std::string_view info, r.lenenc_string("info"));
      ok.info = info;
    }
    if ((ok.status_flags & SERVER_SESSION_STATE_CHANGED) && !r.at_end()) {
      TP_TRY(std::string_view state, r.lenenc_string("session state changes"));
      ok.session_state_changes = state;
    }
  } else {
    ok.info = r.rest();
  }
  return ok;
}

std::string encode_ok_packet(const OkPacket& ok, uint64_t capabilities) {
  std::string out;
  put_u8(out, ok.header);
  put_lenenc_int(out, ok.affected_rows);
  put_lenenc_int(out, ok.last_insert_id);
  if (capabilities & CLIENT_PROTOCOL_41) {
    put_u16(out, ok.status_flags);
    put_u16(out, ok.warnings);
  } else if (capabilities & CLIENT_TRANSACTIONS) {
    put_u16(out, ok.status_flags);
  }
  if (capabilities & CLIENT_SESSION_TRACK) {
    const bool state_changed = ok.status_flags & SERVER_SESSION_STATE_CHANGED;
    if (state_changed || !ok.info.empty()) put_lenenc_string(out, ok.info);
    if (state_changed) put_lenenc_string(out, ok.session_state_changes);
  } else {
    out.append(ok.info);
  }
  return out;
}

bool is_ok_packet(std::string_view payload) {
  return payload.size() >= 7 && static_cast<uint8_t>(payload[0]) == kOkHeader;
}

Result<ErrPacket> parse_err_packet(std::string_view payload, uint64_t capabilities) {
  PayloadReader r(payload, "ERR_Packet");
  TP_CHECK(expect_header(r, kErrHeader));
  ErrPacket err;
  TP_TRY(err.error_code, r.u16("error code"));
  err.sql_state.clear();
  if ((capabilities & CLIENT_PROTOCOL_41) && r.remaining() > 0 && r.peek("sql state marker").value() == '#') {
    TP_CHECK(r.bytes(1, "sql state marker"));
    TP_TRY(std::string_view state, r.bytes(5, "sql state"));
    err.sql_state = state;
  }
  err.message = r.rest();
  return err;
}

std::string encode_err_packet(const ErrPacket& err, uint64_t capabilities) {
  std::string out;
  put_u8(out, kErrHeader);
  put_u16(out, err.error_code);
  if (capabilities & CLIENT_PROTOCOL_41) {
    out.push_back('#');
    out.append(err.sql_state.size() == 5 ? err.sql_state : std::string("HY000"));
  }
  out.append(err.message);
  return out;
}

Result<EofPacket> parse_eof_packet(std::string_view payload, uint64_t capabilities) {
  PayloadReader r(payload, "EOF_Packet");
  TP_CHECK(expect_header(r, kEofHeader));
  if (payload.size() >= 9) return r.malformed("length", "an EOF_Packet is shorter than 9 bytes");
  EofPacket eof;
  if (capabilities & CLIENT_PROTOCOL_41) {
    TP_TRY(eof.warnings, r.u16("warnings"));
    TP_TRY(eof.status_flags, r.u16("status flags"));
  }
  return eof;
}

std::string encode_eof_packet(const EofPacket& eof, uint64_t capabilities) {
  std::string out;
  put_u8(out, kEofHeader);
  if (capabilities & CLIENT_PROTOCOL_41) {
    put_u16(out, eof.warnings);
    put_u16(out, eof.status_flags);
  }
  return out;
}

Result<uint16_t> parse_terminator_status(std::string_view payload, uint64_t capabilities) {
  if (capabilities & CLIENT_DEPRECATE_EOF) {
    TP_TRY(OkPacket ok, parse_ok_packet(payload, capabilities));
    return ok.status_flags;
  }
  TP_TRY(EofPacket eof, parse_eof_packet(payload, capabilities));
  return eof.status_flags;
}

Result<StmtPrepareOk> parse_stmt_prepare_ok(std::string_view payload, uint64_t capabilities) {
  PayloadReader r(payload, "COM_STMT_PREPARE_OK");
  TP_CHECK(expect_header(r, kOkHeader));
  StmtPrepareOk ok;
  TP_TRY(ok.statement_id, r.u32("statement id"));
  TP_TRY(ok.num_columns, r.u16("number of columns"));
  TP_TRY(ok.num_params, r.u16("number of parameters"));
  TP_CHECK(r.u8("reserved"));
  if (!r.at_end()) {
    TP_TRY(ok.warnings, r.u16("warning count"));
    if ((capabilities & CLIENT_OPTIONAL_RESULTSET_METADATA) && !r.at_end()) {
      TP_TRY(uint8_t follows, r.u8("metadata follows"));
      ok.metadata_follows = follows;
    }
  }
  return ok;
}

std::string encode_stmt_prepare_ok(const StmtPrepareOk& ok, uint64_t capabilities) {
  std::string out;
  put_u8(out, kOkHeader);
  put_u32(out, ok.statement_id);
  put_u16(out, ok.num_columns);
  put_u16(out, ok.num_params);
  put_u8(out, 0);
  put_u16(out, ok.warnings);
  if (capabilities & CLIENT_OPTIONAL_RESULTSET_METADATA) put_u8(out, ok.metadata_follows.value_or(1));
  return out;
}

Result<std::string> parse_local_infile_request(std::string_view payload) {
  PayloadReader r(payload, "LOCAL INFILE Request");
  TP_CHECK(expect_header(r, kLocalInfileHeader));
  return std::string(r.rest());
}

}  // namespace tp::mysql
