#include "db/mysql/query_auditor.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "protocol/mysql/wire.h"

namespace tp::db {

namespace m = tp::mysql;

namespace {

uint64_t little_endian(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = bytes.size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

std::string format_integer(std::string_view bytes, bool is_unsigned) {
  uint64_t v = little_endian(bytes);
  if (is_unsigned) return std::to_string(v);
  const unsigned bits = static_cast<unsigned>(bytes.size() * 8);
  if (bits < 64 && (v & (uint64_t{1} << (bits - 1)))) v |= ~uint64_t{0} << bits;  // sign-extend
  return std::to_string(static_cast<int64_t>(v));
}

std::string format_float(std::string_view bytes) {
  char out[64];
  if (bytes.size() == 4) {
    float f;
    uint32_t raw = static_cast<uint32_t>(little_endian(bytes));
    std::memcpy(&f, &raw, sizeof f);
    std::snprintf(out, sizeof out, "%.9g", static_cast<double>(f));
  } else {
    double d;
    uint64_t raw = little_endian(bytes);
    std::memcpy(&d, &raw, sizeof d);
    std::snprintf(out, sizeof out, "%.17g", d);
  }
  return out;
}

// "Binary Protocol Value" MYSQL_TYPE_DATE / DATETIME / TIMESTAMP: int<1> length (0, 4, 7 or 11),
// int<2> year, int<1> month, day, [hour, minute, second, [int<4> microseconds]].
std::string format_datetime(std::string_view v) {
  unsigned char b[11] = {};
  std::memcpy(b, v.data() + 1, std::min<size_t>(v.size() - 1, sizeof b));
  char out[40];
  int n = std::snprintf(out, sizeof out, "%04u-%02u-%02u", b[0] | (b[1] << 8), b[2], b[3]);
  if (v.size() > 5) n += std::snprintf(out + n, sizeof out - n, " %02u:%02u:%02u", b[4], b[5], b[6]);
  if (v.size() > 8)
    std::snprintf(out + n, sizeof out - n, ".%06u", static_cast<unsigned>(little_endian(v.substr(8, 4))));
  return out;
}

// MYSQL_TYPE_TIME: int<1> length (0, 8 or 12), int<1> is_negative, int<4> days, int<1> hour,
// minute, second, [int<4> microseconds].
std::string format_time(std::string_view v) {
  if (v.size() < 9) return "00:00:00";
  const bool negative = v[1] != 0;
  const uint64_t hours = little_endian(v.substr(2, 4)) * 24 + static_cast<uint8_t>(v[6]);
  char out[48];
  int n = std::snprintf(out, sizeof out, "%s%02" PRIu64 ":%02u:%02u", negative ? "-" : "", hours,
                        static_cast<uint8_t>(v[7]), static_cast<uint8_t>(v[8]));
  if (v.size() >= 13)
    std::snprintf(out + n, sizeof out - n, ".%06u", static_cast<unsigned>(little_endian(v.substr(9, 4))));
  return out;
}

Result<std::string> format_value(m::PayloadReader& r, uint16_t type) {
  TP_TRY(std::string_view raw, m::read_binary_value(r, type));
  const bool is_unsigned = type & 0x8000;
  switch (type & 0xFF) {
    case m::MYSQL_TYPE_NULL:
      return std::string("NULL");
    case m::MYSQL_TYPE_TINY:
    case 2:   // SHORT
    case 13:  // YEAR
    case m::MYSQL_TYPE_LONG:
    case 9:  // INT24
    case m::MYSQL_TYPE_LONGLONG:
      return format_integer(raw, is_unsigned);
    case 4:  // FLOAT
    case 5:  // DOUBLE
      return format_float(raw);
    case 7:   // TIMESTAMP
    case 10:  // DATE
    case m::MYSQL_TYPE_DATETIME:
      return format_datetime(raw);
    case 11:  // TIME
      return format_time(raw);
    default: {
      m::PayloadReader text(raw, "parameter");
      TP_TRY(std::string_view value, text.lenenc_string("string value"));
      return std::string(value);
    }
  }
}

}  // namespace

Result<std::vector<std::string>> decode_execute_parameters(std::string_view body, uint16_t num_params,
                                                           std::vector<uint16_t>& types,
                                                           const std::set<uint16_t>& long_data) {
  std::vector<std::string> out;
  if (num_params == 0) return out;
  m::PayloadReader r(body, "COM_STMT_EXECUTE parameters");
  TP_TRY(std::string_view null_bitmap, r.bytes((num_params + 7) / 8, "NULL bitmap"));
  TP_TRY(uint8_t new_params_bound, r.u8("new params bound flag"));
  if (new_params_bound) {
    types.clear();
    for (uint16_t i = 0; i < num_params; ++i) {
      TP_TRY(uint16_t type, r.u16("parameter type"));
      types.push_back(type);
    }
  }
  if (types.size() != num_params)
    return r.malformed("parameter types", "the statement's parameter types were never bound");
  out.reserve(num_params);
  for (uint16_t i = 0; i < num_params; ++i) {
    if (static_cast<uint8_t>(null_bitmap[i / 8]) & (1 << (i % 8))) {
      out.emplace_back("NULL");
    } else if (long_data.count(i)) {
      out.emplace_back("<long data>");
    } else {
      TP_TRY(std::string value, format_value(r, types[i]));
      out.push_back(std::move(value));
    }
  }
  return out;
}

MysqlQueryAuditor::Statement* MysqlQueryAuditor::find(uint32_t statement_id) {
  if (statement_id == m::kMariaDbLastPreparedStatement) statement_id = last_prepared_;
  auto it = statements_.find(statement_id);
  return it == statements_.end() ? nullptr : &it->second;
}

void MysqlQueryAuditor::on_command(const m::Command& command) {
  switch (command.type) {
    case m::CommandType::kStmtExecute:
      on_execute(command);
      break;
    case m::CommandType::kStmtSendLongData:
      if (Statement* s = find(command.statement_id)) s->long_data.insert(command.param_id);
      break;
    case m::CommandType::kStmtReset:
      if (Statement* s = find(command.statement_id)) s->long_data.clear();
      break;
    case m::CommandType::kStmtBulkExecute:
      // MariaDB's array binding: one record for the batch, its rows are not decoded.
      if (Statement* s = find(command.statement_id))
        record_(s->text, {"<bulk parameters>"});
      else
        record_({}, {});
      break;
    default:
      break;
  }
}

void MysqlQueryAuditor::on_execute(const m::Command& command) {
  Statement* s = find(command.statement_id);
  if (!s) {
    record_({}, {});  // forgotten or never seen: the execution still happened
    return;
  }
  auto parameters = decode_execute_parameters(command.body, s->num_params, s->types, s->long_data);
  s->long_data.clear();
  if (parameters.ok())
    record_(s->text, std::move(*parameters));
  else
    record_(s->text, {"<undecodable parameters: " + parameters.error().message + ">"});
}

void MysqlQueryAuditor::on_query(std::string_view text) {
  record_(text, {});
}

void MysqlQueryAuditor::on_init_db(std::string_view schema) {
  std::string quoted;
  for (char c : schema) quoted += c == '`' ? std::string("``") : std::string(1, c);
  record_("USE `" + quoted + "`", {});
  pending_init_db_.emplace_back(schema);
}

void MysqlQueryAuditor::on_stmt_prepare_ok(const m::StmtPrepareOk& ok, std::string_view text) {
  if (statements_.size() >= kMaxStatements && !statements_.count(ok.statement_id))
    statements_.erase(statements_.begin());  // ids grow, so the first is the oldest
  Statement& s = statements_[ok.statement_id];
  s = Statement{std::string(text), ok.num_params, {}, {}};
  last_prepared_ = ok.statement_id;
}

void MysqlQueryAuditor::on_stmt_close(uint32_t statement_id) {
  if (statement_id == m::kMariaDbLastPreparedStatement) statement_id = last_prepared_;
  statements_.erase(statement_id);
}

void MysqlQueryAuditor::on_response_complete(m::CommandType command, const m::ResponseSummary& summary) {
  if (command != m::CommandType::kInitDb || pending_init_db_.empty()) return;
  std::string database = std::move(pending_init_db_.front());
  pending_init_db_.erase(pending_init_db_.begin());
  if (summary.ok && database_changed_) database_changed_(database);
}

}  // namespace tp::db
