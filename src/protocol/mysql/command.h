// Command phase requests (dev.mysql.com "Command Phase": COM_QUIT, COM_INIT_DB, COM_QUERY,
// COM_PING, COM_CHANGE_USER, COM_STMT_PREPARE, COM_STMT_EXECUTE, ...): the first payload byte
// names the command. parse_command turns a client packet into a typed Command; encode_command is
// its inverse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/mysql/wire.h"

namespace tp::mysql {

// Command bytes (mysql_com.h "enum_server_command"; 0xFA is MariaDB's COM_STMT_BULK_EXECUTE).
enum class CommandType : uint8_t {
  kSleep = 0x00,
  kQuit = 0x01,
  kInitDb = 0x02,
  kQuery = 0x03,
  kFieldList = 0x04,
  kCreateDb = 0x05,
  kDropDb = 0x06,
  kRefresh = 0x07,
  kShutdown = 0x08,
  kStatistics = 0x09,
  kProcessInfo = 0x0A,
  kConnect = 0x0B,
  kProcessKill = 0x0C,
  kDebug = 0x0D,
  kPing = 0x0E,
  kTime = 0x0F,
  kDelayedInsert = 0x10,
  kChangeUser = 0x11,
  kBinlogDump = 0x12,
  kTableDump = 0x13,
  kConnectOut = 0x14,
  kRegisterSlave = 0x15,
  kStmtPrepare = 0x16,
  kStmtExecute = 0x17,
  kStmtSendLongData = 0x18,
  kStmtClose = 0x19,
  kStmtReset = 0x1A,
  kSetOption = 0x1B,
  kStmtFetch = 0x1C,
  kDaemon = 0x1D,
  kBinlogDumpGtid = 0x1E,
  kResetConnection = 0x1F,
  kClone = 0x20,
  kSubscribeGroupReplicationStream = 0x21,
  kStmtBulkExecute = 0xFA,
};

// "COM_QUERY", ...; "COM_UNKNOWN" for bytes outside the enum.
const char* command_name(CommandType type);

// One query attribute (COM_QUERY with CLIENT_QUERY_ATTRIBUTES).
struct QueryAttribute {
  std::string name;
  uint16_t type = 0;  // MYSQL_TYPE_* in the low byte, 0x8000 = unsigned
  bool is_null = false;
  std::string value;  // the value's bytes in the binary protocol encoding of `type`
};

// COM_CHANGE_USER: int<1> 0x11, string<NUL> user, auth data (int<1> length + bytes with
// CLIENT_SECURE_CONNECTION, else string<NUL>), string<NUL> database, then optionally int<2>
// character set, string<NUL> auth plugin name (CLIENT_PLUGIN_AUTH) and connect attributes
// (CLIENT_CONNECT_ATTRS).
struct ChangeUser {
  std::string username;
  std::string auth_response;
  std::string database;
  std::optional<uint16_t> character_set;
  std::string auth_plugin_name;
  ConnectAttributes connect_attributes;
};

// A parsed command. Only the fields of `type` are set:
//   kQuery:            text (the SQL), query_attributes
//   kStmtPrepare:      text (the SQL)
//   kInitDb:           text (the schema)
//   kFieldList:        text (the table), body (the wildcard)
//   kStmtExecute, kStmtBulkExecute: statement_id, flags, iteration_count (execute only),
//                      body (parameters; decoding them needs the prepared statement's param count)
//   kStmtSendLongData: statement_id, param_id, body (the data)
//   kStmtClose, kStmtReset: statement_id
//   kStmtFetch:        statement_id, num_rows
//   kProcessKill:      connection_id
//   kSetOption:        option
//   kRefresh, kShutdown: option (sub-command byte, when present)
//   kChangeUser:       change_user
// Other commands carry no fields; any bytes after the command byte are kept in body.
struct Command {
  CommandType type = CommandType::kSleep;
  std::string text;
  std::vector<QueryAttribute> query_attributes;
  uint32_t statement_id = 0;
  uint16_t flags = 0;  // COM_STMT_EXECUTE: int<1> cursor flags; COM_STMT_BULK_EXECUTE: int<2> flags
  uint32_t iteration_count = 1;
  uint16_t param_id = 0;
  uint32_t num_rows = 0;
  uint32_t connection_id = 0;
  uint16_t option = 0;
  std::optional<ChangeUser> change_user;
  std::string body;
};

// Parses one client packet of the command phase. `capabilities` are the negotiated ones: they
// decide the layout of COM_QUERY (CLIENT_QUERY_ATTRIBUTES) and COM_CHANGE_USER. Errors on an
// empty packet, an unknown command byte, or a truncated body.
Result<Command> parse_command(std::string_view payload, uint64_t capabilities);

// Encodes a command (the fields listed above; unset optional ones are left out). COM_QUERY with
// CLIENT_QUERY_ATTRIBUTES carries query_attributes (whose values must already be encoded).
Result<std::string> encode_command(const Command& command, uint64_t capabilities);

// Binary protocol field types that appear in query attributes (ProtocolBinary::MYSQL_TYPE_*).
inline constexpr uint8_t MYSQL_TYPE_TINY = 1;
inline constexpr uint8_t MYSQL_TYPE_LONG = 3;
inline constexpr uint8_t MYSQL_TYPE_NULL = 6;
inline constexpr uint8_t MYSQL_TYPE_LONGLONG = 8;
inline constexpr uint8_t MYSQL_TYPE_DATETIME = 12;
inline constexpr uint8_t MYSQL_TYPE_VAR_STRING = 253;
inline constexpr uint8_t MYSQL_TYPE_STRING = 254;

// Reads one value in the binary protocol encoding of `type` ("Binary Protocol Value") and returns
// its bytes. Errors for types that have no binary encoding.
Result<std::string_view> read_binary_value(PayloadReader& r, uint16_t type);

}  // namespace tp::mysql
