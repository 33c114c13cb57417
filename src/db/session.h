// What every database session shares, whatever its protocol (STYLE habit 9):
// who the client is, whether the route and the roles let them in, and the
// audit events that record it. Pure functions over values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "auth/types.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/result.h"
#include "crypto/identity.h"
#include "rbac/access.h"

namespace tp::db {

struct SessionInfo {
  std::string sid;
  Identity identity;
  Database db;
  std::string db_user;  // what the client asked for (equals the route's)
  std::string db_name;
  std::string client_addr;
};

// Verifies the client's database certificate (from the dial request) against
// the user CAs at `now` and checks it is a user certificate routed to `db`
// over `protocol`. Errors say what to run to fix them.
Result<Identity> verify_client_identity(const std::string& client_cert_pem,
                                        const std::vector<std::string>& user_cas, const Database& db,
                                        const std::string& protocol, TimePoint now);

// The route in the certificate against what the client's protocol startup
// asked for: the db user must match; the database must match when the route
// names one. Returns the database name to use (the route's, or the client's
// when the route leaves it open).
Result<std::string> check_route(const DatabaseRoute& route, const std::string& startup_user,
                                const std::string& startup_database);

// RBAC for the session: the database's labels, db user and db name.
AccessDecision authorize_session(const std::vector<Role>& roles, const SessionInfo& session);

// Audit events, in the reference's vocabulary and field names, written as JSON
// text (one per query: no document per event); AuditLog::emit adds the "uid".
// The fields every event of a session repeats (user, sid, database, client address), written once
// when the session starts: each query's event copies them instead of escaping them again.
class SessionEventFields {
 public:
  explicit SessionEventFields(const SessionInfo& session);
  const JsonObjectWriter& fields() const { return fields_; }

 private:
  JsonObjectWriter fields_;
};
JsonObjectWriter session_start_event(const SessionInfo& session, const Status& outcome, TimePoint now);
JsonObjectWriter session_end_event(const SessionInfo& session, TimePoint started, TimePoint now);
// The query text and each parameter are cut at these sizes ("db_query_truncated": true,
// "db_query_bytes": the query's full size); invalid UTF-8 becomes U+FFFD.
inline constexpr size_t kMaxAuditedQueryBytes = 1024 * 1024;
inline constexpr size_t kMaxAuditedParameterBytes = 64 * 1024;
JsonObjectWriter session_query_event(const SessionEventFields& session, std::string_view query,
                                     const std::vector<std::string>& parameters, TimePoint now);

// Why a relay ended, in the words the session.end log line uses.
enum class RelayEnd {
  kClientClosed,
  kServerClosed,
  kCertificateExpired,
  kShutdown,
  kClientProtocolError,
  kServerProtocolError,
};
const char* relay_end_name(RelayEnd end);

// What the client is told when its certificate expires mid-session.
std::string expired_session_message(const SessionInfo& session);

}  // namespace tp::db
