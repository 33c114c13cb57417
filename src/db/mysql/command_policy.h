// Which client commands the MySQL relay forwards (DESIGN section 2, step 7). The certificate's
// route fixes the database user, so COM_CHANGE_USER is refused; a change of database (COM_INIT_DB,
// which the mariadb/mysql clients send for `use db`, or a COM_QUERY that is a `USE db` statement)
// goes through only when the roles allow that database; replication and clone streams are refused
// because the relay does not follow them. Refusals are ERR_Packets the client shows. Pure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/mysql/response.h"

namespace tp::db {

struct CommandVerdict {
  bool forward = true;
  mysql::ErrPacket refusal;  // when !forward: the answer to the client (sequence id 1)
};

// `payload`: one client command packet (sequence id 0). `database_allowed` checks a database the
// command switches to; its error becomes the refusal's message.
CommandVerdict check_command(std::string_view payload, uint64_t capabilities,
                             const std::function<Status(const std::string&)>& database_allowed);

// The database a COM_QUERY that starts with a `USE db` / `USE \`db\`` statement switches to
// (leading whitespace and comments skipped, case-insensitive, anything after its ';' ignored);
// nullopt for any other SQL.
// Best effort by design: MySQL's db_names are a guard on the session's default database, not
// on every schema a query may name (`SELECT * FROM other.t` needs the server's own grants).
std::optional<std::string> use_statement_database(std::string_view sql);

}  // namespace tp::db
