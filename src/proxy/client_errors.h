// What a database client reads when the proxy refuses or cannot route its connection: a message in
// the client's own protocol, so psql and mariadb print our words instead of "server closed the
// connection unexpectedly" (issue 3: "never a silent close"). Pure: bytes out.
#pragma once

#include <string>

#include "common/result.h"

namespace tp::proxy {

// A PostgreSQL ErrorResponse with severity FATAL ("Message Formats" → ErrorResponse). The SQLSTATE
// follows the error's code: 28000 (invalid authorization) for certificate problems, 08001 (cannot
// establish connection) for routing failures, 08P01 for protocol violations.
std::string postgres_error(const Error& error);

// A MySQL ERR_Packet (dev.mysql.com "ERR_Packet") with sequence id `sequence_id`. Sent in place of
// the server greeting, so without the SQLSTATE marker (capabilities are not negotiated yet). Error
// code 1045 (ER_ACCESS_DENIED_ERROR) for certificate problems, 1105 (ER_UNKNOWN_ERROR) otherwise.
std::string mysql_error(const Error& error, uint8_t sequence_id = 0);

// The same error for a protocol named "postgres" or "mysql"; plain text for anything else.
std::string client_error_for_protocol(const std::string& protocol, const Error& error);

}  // namespace tp::proxy
