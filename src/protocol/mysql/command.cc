#include "protocol/mysql/command.h"

#include <array>

#include "protocol/mysql/constants.h"

namespace tp::mysql {
namespace {

using ParseBody = Status (*)(PayloadReader& r, uint64_t capabilities, Command& c);
using EncodeBody = Status (*)(const Command& c, uint64_t capabilities, std::string& out);

// ---- COM_QUERY (dev.mysql.com "COM_QUERY") ----
// With CLIENT_QUERY_ATTRIBUTES: int<lenenc> parameter_count, int<lenenc> parameter_set_count (1),
// and when parameter_count > 0: null bitmap ((count + 7) / 8 bytes), int<1> new_params_bind_flag,
// count x {int<2> type, string<lenenc> name}, the non-NULL values; then string<EOF> query.
Status parse_query(PayloadReader& r, uint64_t capabilities, Command& c) {
  if (capabilities & CLIENT_QUERY_ATTRIBUTES) {
    TP_TRY(uint64_t count, r.lenenc_int("query attribute count"));
    TP_CHECK(r.lenenc_int("query attribute set count"));
    if (count > 0) {
      // Each attribute takes at least 3 bytes (type + empty name): bounds the allocation below.
      if (count > r.remaining() / 3)
        return r.malformed("query attribute count", "more than the packet can hold");
      TP_TRY(std::string_view null_bitmap, r.bytes((count + 7) / 8, "query attribute null bitmap"));
      TP_TRY(uint8_t bind_flag, r.u8("new params bind flag"));
      if (bind_flag != 1)
        return r.malformed("new params bind flag", "attribute types missing, query text unreachable");
      c.query_attributes.resize(count);
      for (size_t i = 0; i < count; ++i) {
        QueryAttribute& a = c.query_attributes[i];
        TP_TRY(a.type, r.u16("query attribute type"));
        TP_TRY(std::string_view name, r.lenenc_string("query attribute name"));
        a.name = name;
        a.is_null = (static_cast<uint8_t>(null_bitmap[i / 8]) >> (i % 8)) & 1;
      }
      for (QueryAttribute& a : c.query_attributes) {
        if (a.is_null) continue;
        TP_TRY(std::string_view value, read_binary_value(r, a.type));
        a.value = value;
      }
    }
  }
  c.text = r.rest();
  return {};
}

Status encode_query(const Command& c, uint64_t capabilities, std::string& out) {
  if (capabilities & CLIENT_QUERY_ATTRIBUTES) {
    const auto& attrs = c.query_attributes;
    put_lenenc_int(out, attrs.size());
    put_lenenc_int(out, 1);
    if (!attrs.empty()) {
      std::string bitmap((attrs.size() + 7) / 8, '\0');
      for (size_t i = 0; i < attrs.size(); ++i) {
        if (attrs[i].is_null) bitmap[i / 8] = static_cast<char>(bitmap[i / 8] | (1 << (i % 8)));
      }
      out.append(bitmap);
      put_u8(out, 1);
      for (const QueryAttribute& a : attrs) {
        put_u16(out, a.type);
        put_lenenc_string(out, a.name);
      }
      for (const QueryAttribute& a : attrs) {
        if (!a.is_null) out.append(a.value);
      }
    }
  } else if (!c.query_attributes.empty()) {
    return invalid_argument("MySQL COM_QUERY: query attributes need CLIENT_QUERY_ATTRIBUTES");
  }
  out.append(c.text);
  return {};
}

// ---- Commands whose body is string<EOF> (COM_INIT_DB schema, COM_STMT_PREPARE query) ----
Status parse_text(PayloadReader& r, uint64_t, Command& c) {
  c.text = r.rest();
  return {};
}
Status encode_text(const Command& c, uint64_t, std::string& out) {
  out.append(c.text);
  return {};
}

// ---- Commands with no fields; anything after the command byte is kept ----
Status parse_nothing(PayloadReader& r, uint64_t, Command& c) {
  c.body = r.rest();
  return {};
}
Status encode_nothing(const Command& c, uint64_t, std::string& out) {
  out.append(c.body);
  return {};
}

// ---- COM_FIELD_LIST: string<NUL> table, string<EOF> wildcard ----
Status parse_field_list(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(std::string_view table, r.nul_string("table"));
  c.text = table;
  c.body = r.rest();
  return {};
}
Status encode_field_list(const Command& c, uint64_t, std::string& out) {
  TP_CHECK(put_nul_string(out, c.text, "table"));
  out.append(c.body);
  return {};
}

// ---- COM_STMT_CLOSE, COM_STMT_RESET: int<4> statement_id ----
Status parse_statement_id(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(c.statement_id, r.u32("statement id"));
  return {};
}
Status encode_statement_id(const Command& c, uint64_t, std::string& out) {
  put_u32(out, c.statement_id);
  return {};
}

// ---- COM_STMT_EXECUTE: int<4> statement_id, int<1> flags, int<4> iteration_count (always 1),
// then parameters whose layout needs num_params from COM_STMT_PREPARE_OK ----
Status parse_stmt_execute(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(c.statement_id, r.u32("statement id"));
  TP_TRY(c.flags, r.u8("flags"));
  TP_TRY(c.iteration_count, r.u32("iteration count"));
  c.body = r.rest();
  return {};
}
Status encode_stmt_execute(const Command& c, uint64_t, std::string& out) {
  put_u32(out, c.statement_id);
  put_u8(out, static_cast<uint8_t>(c.flags));
  put_u32(out, c.iteration_count);
  out.append(c.body);
  return {};
}

// ---- MariaDB COM_STMT_BULK_EXECUTE: int<4> statement_id, int<2> bulk flags, parameters ----
Status parse_stmt_bulk_execute(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(c.statement_id, r.u32("statement id"));
  TP_TRY(c.flags, r.u16("bulk flags"));
  c.body = r.rest();
  return {};
}
Status encode_stmt_bulk_execute(const Command& c, uint64_t, std::string& out) {
  put_u32(out, c.statement_id);
  put_u16(out, c.flags);
  out.append(c.body);
  return {};
}

// ---- COM_STMT_SEND_LONG_DATA: int<4> statement_id, int<2> param_id, string<EOF> data ----
Status parse_send_long_data(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(c.statement_id, r.u32("statement id"));
  TP_TRY(c.param_id, r.u16("parameter id"));
  c.body = r.rest();
  return {};
}
Status encode_send_long_data(const Command& c, uint64_t, std::string& out) {
  put_u32(out, c.statement_id);
  put_u16(out, c.param_id);
  out.append(c.body);
  return {};
}

// ---- COM_STMT_FETCH: int<4> statement_id, int<4> num_rows ----
Status parse_stmt_fetch(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(c.statement_id, r.u32("statement id"));
  TP_TRY(c.num_rows, r.u32("number of rows"));
  return {};
}
Status encode_stmt_fetch(const Command& c, uint64_t, std::string& out) {
  put_u32(out, c.statement_id);
  put_u32(out, c.num_rows);
  return {};
}

// ---- COM_PROCESS_KILL: int<4> connection_id ----
Status parse_process_kill(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(c.connection_id, r.u32("connection id"));
  return {};
}
Status encode_process_kill(const Command& c, uint64_t, std::string& out) {
  put_u32(out, c.connection_id);
  return {};
}

// ---- COM_SET_OPTION: int<2> option ----
Status parse_set_option(PayloadReader& r, uint64_t, Command& c) {
  TP_TRY(c.option, r.u16("option"));
  return {};
}
Status encode_set_option(const Command& c, uint64_t, std::string& out) {
  put_u16(out, c.option);
  return {};
}

// ---- COM_REFRESH (int<1> sub command), COM_SHUTDOWN (optional int<1> shutdown type) ----
Status parse_sub_command(PayloadReader& r, uint64_t, Command& c) {
  if (!r.at_end()) {
    TP_TRY(c.option, r.u8("sub command"));
  }
  return {};
}
Status encode_sub_command(const Command& c, uint64_t, std::string& out) {
  put_u8(out, static_cast<uint8_t>(c.option));
  return {};
}

// ---- COM_CHANGE_USER (layout in command.h) ----
Status parse_change_user(PayloadReader& r, uint64_t capabilities, Command& c) {
  ChangeUser& u = c.change_user.emplace();
  TP_TRY(std::string_view user, r.nul_string("user"));
  u.username = user;
  if (capabilities & CLIENT_SECURE_CONNECTION) {
    TP_TRY(uint8_t n, r.u8("auth response length"));
    TP_TRY(std::string_view auth, r.bytes(n, "auth response"));
    u.auth_response = auth;
  } else {
    TP_TRY(std::string_view auth, r.nul_string("auth response"));
    u.auth_response = auth;
  }
  TP_TRY(std::string_view database, r.nul_string("database"));
  u.database = database;
  if (r.at_end()) return {};
  TP_TRY(u.character_set, r.u16("character set"));
  if ((capabilities & CLIENT_PLUGIN_AUTH) && !r.at_end()) {
    TP_TRY(std::string_view plugin, r.nul_string("auth plugin name"));
    u.auth_plugin_name = plugin;
  }
  if ((capabilities & CLIENT_CONNECT_ATTRS) && !r.at_end()) {
    TP_TRY(u.connect_attributes, read_connect_attributes(r));
  }
  return {};
}
Status encode_change_user(const Command& c, uint64_t capabilities, std::string& out) {
  if (!c.change_user) return invalid_argument("MySQL COM_CHANGE_USER: change_user fields are not set");
  const ChangeUser& u = *c.change_user;
  TP_CHECK(put_nul_string(out, u.username, "user"));
  if (capabilities & CLIENT_SECURE_CONNECTION) {
    if (u.auth_response.size() > 255) {
      return invalid_argument("MySQL COM_CHANGE_USER: auth response longer than 255 bytes");
    }
    put_u8(out, static_cast<uint8_t>(u.auth_response.size()));
    out.append(u.auth_response);
  } else {
    TP_CHECK(put_nul_string(out, u.auth_response, "auth response"));
  }
  TP_CHECK(put_nul_string(out, u.database, "database"));
  if (!u.character_set) return {};
  put_u16(out, *u.character_set);
  if (capabilities & CLIENT_PLUGIN_AUTH)
    TP_CHECK(put_nul_string(out, u.auth_plugin_name, "auth plugin name"));
  if (capabilities & CLIENT_CONNECT_ATTRS) put_connect_attributes(out, u.connect_attributes);
  return {};
}

// The handler table, keyed by the command byte (Envoy style: one entry per message type).
struct CommandEntry {
  const char* name = nullptr;  // nullptr: not a command
  ParseBody parse = nullptr;
  EncodeBody encode = nullptr;
};

constexpr std::array<CommandEntry, 256> make_table() {
  std::array<CommandEntry, 256> t{};
  auto set = [&t](CommandType type, const char* name, ParseBody p, EncodeBody e) {
    t[static_cast<uint8_t>(type)] = CommandEntry{name, p, e};
  };
  using T = CommandType;
  set(T::kSleep, "COM_SLEEP", parse_nothing, encode_nothing);
  set(T::kQuit, "COM_QUIT", parse_nothing, encode_nothing);
  set(T::kInitDb, "COM_INIT_DB", parse_text, encode_text);
  set(T::kQuery, "COM_QUERY", parse_query, encode_query);
  set(T::kFieldList, "COM_FIELD_LIST", parse_field_list, encode_field_list);
  set(T::kCreateDb, "COM_CREATE_DB", parse_text, encode_text);
  set(T::kDropDb, "COM_DROP_DB", parse_text, encode_text);
  set(T::kRefresh, "COM_REFRESH", parse_sub_command, encode_sub_command);
  set(T::kShutdown, "COM_SHUTDOWN", parse_sub_command, encode_sub_command);
  set(T::kStatistics, "COM_STATISTICS", parse_nothing, encode_nothing);
  set(T::kProcessInfo, "COM_PROCESS_INFO", parse_nothing, encode_nothing);
  set(T::kConnect, "COM_CONNECT", parse_nothing, encode_nothing);
  set(T::kProcessKill, "COM_PROCESS_KILL", parse_process_kill, encode_process_kill);
  set(T::kDebug, "COM_DEBUG", parse_nothing, encode_nothing);
  set(T::kPing, "COM_PING", parse_nothing, encode_nothing);
  set(T::kTime, "COM_TIME", parse_nothing, encode_nothing);
  set(T::kDelayedInsert, "COM_DELAYED_INSERT", parse_nothing, encode_nothing);
  set(T::kChangeUser, "COM_CHANGE_USER", parse_change_user, encode_change_user);
  set(T::kBinlogDump, "COM_BINLOG_DUMP", parse_nothing, encode_nothing);
  set(T::kTableDump, "COM_TABLE_DUMP", parse_nothing, encode_nothing);
  set(T::kConnectOut, "COM_CONNECT_OUT", parse_nothing, encode_nothing);
  set(T::kRegisterSlave, "COM_REGISTER_SLAVE", parse_nothing, encode_nothing);
  set(T::kStmtPrepare, "COM_STMT_PREPARE", parse_text, encode_text);
  set(T::kStmtExecute, "COM_STMT_EXECUTE", parse_stmt_execute, encode_stmt_execute);
  set(T::kStmtSendLongData, "COM_STMT_SEND_LONG_DATA", parse_send_long_data, encode_send_long_data);
  set(T::kStmtClose, "COM_STMT_CLOSE", parse_statement_id, encode_statement_id);
  set(T::kStmtReset, "COM_STMT_RESET", parse_statement_id, encode_statement_id);
  set(T::kSetOption, "COM_SET_OPTION", parse_set_option, encode_set_option);
  set(T::kStmtFetch, "COM_STMT_FETCH", parse_stmt_fetch, encode_stmt_fetch);
  set(T::kDaemon, "COM_DAEMON", parse_nothing, encode_nothing);
  set(T::kBinlogDumpGtid, "COM_BINLOG_DUMP_GTID", parse_nothing, encode_nothing);
  set(T::kResetConnection, "COM_RESET_CONNECTION", parse_nothing, encode_nothing);
  set(T::kClone, "COM_CLONE", parse_nothing, encode_nothing);
  set(T::kSubscribeGroupReplicationStream, "COM_SUBSCRIBE_GROUP_REPLICATION_STREAM", parse_nothing,
      encode_nothing);
  set(T::kStmtBulkExecute, "COM_STMT_BULK_EXECUTE", parse_stmt_bulk_execute, encode_stmt_bulk_execute);
  return t;
}

constexpr std::array<CommandEntry, 256> kCommands = make_table();

}  // namespace

const char* command_name(CommandType type) {
  const char* name = kCommands[static_cast<uint8_t>(type)].name;
  return name ? name : "COM_UNKNOWN";
}

Result<Command> parse_command(std::string_view payload, uint64_t capabilities) {
  if (payload.empty())
    return invalid_argument("MySQL command packet is empty; the client sent a malformed packet");
  const uint8_t byte = static_cast<uint8_t>(payload[0]);
  const CommandEntry& entry = kCommands[byte];
  if (entry.name == nullptr) {
    return invalid_argument("unknown MySQL command byte " + std::to_string(byte) +
                            "; answer it with ER_UNKNOWN_COM_ERROR (1047)");
  }
  Command c;
  c.type = static_cast<CommandType>(byte);
  PayloadReader r(payload.substr(1), entry.name);
  TP_CHECK(entry.parse(r, capabilities, c));
  return c;
}

Result<std::string> encode_command(const Command& command, uint64_t capabilities) {
  const CommandEntry& entry = kCommands[static_cast<uint8_t>(command.type)];
  if (entry.name == nullptr) {
    return invalid_argument("cannot encode unknown MySQL command byte " +
                            std::to_string(static_cast<uint8_t>(command.type)));
  }
  std::string out;
  put_u8(out, static_cast<uint8_t>(command.type));
  TP_CHECK(entry.encode(command, capabilities, out));
  return out;
}

Result<std::string_view> read_binary_value(PayloadReader& r, uint16_t type) {
  // "Binary Protocol Value": fixed-width integers and floats, 1-byte-length temporal values, and
  // length-encoded strings for everything textual or opaque.
  switch (type & 0xFF) {
    case MYSQL_TYPE_NULL:
      return std::string_view();
    case MYSQL_TYPE_TINY:
      return r.bytes(1, "TINY value");
    case 2:   // SHORT
    case 13:  // YEAR
      return r.bytes(2, "SHORT value");
    case MYSQL_TYPE_LONG:
    case 9:  // INT24
    case 4:  // FLOAT
      return r.bytes(4, "LONG value");
    case MYSQL_TYPE_LONGLONG:
    case 5:  // DOUBLE
      return r.bytes(8, "LONGLONG value");
    case 7:   // TIMESTAMP
    case 10:  // DATE
    case MYSQL_TYPE_DATETIME:
    case 11: {  // TIME
      TP_TRY(uint8_t n, r.peek("temporal value length"));
      return r.bytes(1 + static_cast<size_t>(n), "temporal value");
    }
    case 0:    // DECIMAL
    case 15:   // VARCHAR
    case 16:   // BIT
    case 242:  // VECTOR
    case 245:  // JSON
    case 246:  // NEWDECIMAL
    case 247:  // ENUM
    case 248:  // SET
    case 249:  // TINY_BLOB
    case 250:  // MEDIUM_BLOB
    case 251:  // LONG_BLOB
    case 252:  // BLOB
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case 255: {  // GEOMETRY
      const size_t start = r.offset();
      TP_CHECK(r.lenenc_string("string value"));
      return r.consumed_since(start);
    }
    default:
      return r.malformed("value type", "type " + std::to_string(type & 0xFF) + " has no binary encoding");
  }
}

}  // namespace tp::mysql
