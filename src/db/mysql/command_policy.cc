#include "db/mysql/command_policy.h"

#include <cctype>

#include "protocol/mysql/command.h"
#include "protocol/mysql/response_tracker.h"

namespace tp::db {

namespace m = tp::mysql;

namespace {

CommandVerdict refuse(uint16_t code, const char* sql_state, std::string message) {
  CommandVerdict v;
  v.forward = false;
  v.refusal.error_code = code;
  v.refusal.sql_state = sql_state;
  v.refusal.message = std::move(message);
  return v;
}

CommandVerdict check_database(const std::string& database,
                              const std::function<Status(const std::string&)>& database_allowed) {
  Status allowed = database_allowed(database);
  if (allowed.ok()) return {};
  return refuse(1044, "42000", allowed.error().message);  // ER_DBACCESS_DENIED_ERROR
}

// Skips whitespace and SQL comments (/* */, "-- " and # to the end of the line).
std::string_view skip_blank(std::string_view s) {
  while (!s.empty()) {
    if (std::isspace(static_cast<unsigned char>(s[0]))) {
      s.remove_prefix(1);
    } else if (s.substr(0, 2) == "/*") {
      size_t end = s.find("*/", 2);
      s.remove_prefix(end == std::string_view::npos ? s.size() : end + 2);
    } else if (s[0] == '#' || (s.substr(0, 2) == "--" &&
                               (s.size() == 2 || std::isspace(static_cast<unsigned char>(s[2]))))) {
      size_t end = s.find('\n');
      s.remove_prefix(end == std::string_view::npos ? s.size() : end + 1);
    } else {
      break;
    }
  }
  return s;
}

}  // namespace

std::optional<std::string> use_statement_database(std::string_view sql) {
  sql = skip_blank(sql);
  if (sql.size() < 4) return std::nullopt;
  for (size_t i = 0; i < 3; ++i)
    if (std::toupper(static_cast<unsigned char>(sql[i])) != "USE"[i]) return std::nullopt;
  if (!std::isspace(static_cast<unsigned char>(sql[3])) && sql[3] != '`' && sql.substr(3, 2) != "/*")
    return std::nullopt;
  sql = skip_blank(sql.substr(3));
  std::string name;
  if (!sql.empty() && sql[0] == '`') {
    size_t i = 1;
    for (; i < sql.size(); ++i) {
      if (sql[i] != '`') {
        name += sql[i];
      } else if (i + 1 < sql.size() && sql[i + 1] == '`') {
        name += '`';  // `` inside a quoted identifier
        ++i;
      } else {
        break;
      }
    }
    if (i >= sql.size()) return std::nullopt;  // unterminated
    sql.remove_prefix(i + 1);
  } else {
    size_t i = 0;
    while (i < sql.size() && !std::isspace(static_cast<unsigned char>(sql[i])) && sql[i] != ';' &&
           sql[i] != '/' && sql[i] != '#' && sql[i] != '-')
      ++i;
    name = std::string(sql.substr(0, i));
    sql.remove_prefix(i);
  }
  // The statement ends here; what may follow it (multi-statements) is not looked at.
  sql = skip_blank(sql);
  if (name.empty() || (!sql.empty() && sql[0] != ';')) return std::nullopt;
  return name;
}

CommandVerdict check_command(std::string_view payload, uint64_t capabilities,
                             const std::function<Status(const std::string&)>& database_allowed) {
  if (payload.empty()) return refuse(1047, "08S01", "empty command packet");  // ER_UNKNOWN_COM_ERROR
  const auto type = static_cast<m::CommandType>(static_cast<uint8_t>(payload[0]));
  switch (type) {
    case m::CommandType::kChangeUser:
      return refuse(
          1045, "28000",  // ER_ACCESS_DENIED_ERROR
          "COM_CHANGE_USER is not allowed through Teleport: the session's database user and database "
          "come from your certificate; run 'tsh db login --db-user=NAME --db-name=DB <database>' and "
          "connect again to use another one");
    case m::CommandType::kInitDb: {
      auto command = m::parse_command(payload, capabilities);
      if (!command.ok()) return refuse(1047, "08S01", command.error().message);
      return check_database(command->text, database_allowed);
    }
    case m::CommandType::kQuery: {
      auto command = m::parse_command(payload, capabilities);
      if (!command.ok()) return refuse(1047, "08S01", command.error().message);
      if (auto database = use_statement_database(command->text))
        return check_database(*database, database_allowed);
      return {};
    }
    default:
      break;
  }
  if (m::response_shape(type) == m::ResponseShape::kUnsupported)
    return refuse(
        1235, "42000",  // ER_NOT_SUPPORTED_YET
        std::string(m::command_name(type)) +
            " (replication / clone) is not supported through Teleport; connect to the server directly");
  if (std::string_view(m::command_name(type)) == "COM_UNKNOWN")
    return refuse(1047, "08S01", "unknown command " + std::to_string(static_cast<uint8_t>(payload[0])));
  return {};
}

}  // namespace tp::db
