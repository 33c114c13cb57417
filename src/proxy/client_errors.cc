#include "proxy/client_errors.h"

#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/postgres/backend_messages.h"

namespace tp::proxy {

namespace {

bool is_identity_problem(ErrorCode code) {
  return code == ErrorCode::kUnauthenticated || code == ErrorCode::kAccessDenied || code == ErrorCode::kExpired;
}

}  // namespace

std::string postgres_error(const Error& error) {
  pg::ErrorReport report;
  report.severity = "FATAL";
  if (is_identity_problem(error.code)) {
    report.sqlstate = pg::sqlstate::kInvalidAuthorizationSpecification;
  } else if (error.code == ErrorCode::kInvalidArgument) {
    report.sqlstate = pg::sqlstate::kProtocolViolation;
  } else {
    report.sqlstate = "08001";  // sqlclient_unable_to_establish_sqlconnection
  }
  report.message = error.message;
  return pg::encode_error_response(report);
}

std::string mysql_error(const Error& error, uint8_t sequence_id) {
  mysql::ErrPacket err;
  err.error_code = is_identity_problem(error.code) ? 1045 : 1105;
  err.sql_state = is_identity_problem(error.code) ? "28000" : "HY000";
  err.message = error.message;
  return mysql::encode_packet(mysql::encode_err_packet(err, 0), sequence_id);
}

std::string client_error_for_protocol(const std::string& protocol, const Error& error) {
  if (protocol == "postgres") return postgres_error(error);
  if (protocol == "mysql") return mysql_error(error);
  return "ERROR: " + error.message + "\n";
}

}  // namespace tp::proxy
