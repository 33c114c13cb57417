#include "db/session.h"

#include "crypto/certs.h"

namespace tp::db {

using nlohmann::json;

Result<Identity> verify_client_identity(const std::string& client_cert_pem,
                                        const std::vector<std::string>& user_cas, const Database& db,
                                        const std::string& protocol, TimePoint now) {
  if (client_cert_pem.empty())
    return unauthenticated("no client certificate; run 'tsh db login " + db.name + "'");
  auto identity = verify_cert(client_cert_pem, user_cas, now);
  if (!identity.ok()) {
    if (identity.error().code == ErrorCode::kExpired)
      return expired("your database certificate has expired; run 'tsh login' and 'tsh db login " + db.name +
                     "'");
    return identity.error().wrap("client certificate");
  }
  if (identity->kind != IdentityKind::kUser)
    return unauthenticated("client certificate: not a user certificate");
  if (!identity->route)
    return unauthenticated("client certificate: no database route; run 'tsh db login " + db.name + "'");
  if (identity->route->service_name != db.name)
    return access_denied("the certificate is for database \"" + identity->route->service_name + "\", not \"" +
                         db.name + "\"; run 'tsh db login " + db.name + "'");
  if (identity->route->protocol != protocol)
    return access_denied("the certificate is for the " + identity->route->protocol + " protocol, not " +
                         protocol);
  return identity;
}

Result<std::string> check_route(const DatabaseRoute& route, const std::string& startup_user,
                                const std::string& startup_database) {
  if (route.username.empty())
    return access_denied("the certificate names no database user; run 'tsh db login --db-user=" +
                         startup_user + " " + route.service_name + "'");
  if (startup_user != route.username)
    return access_denied("the certificate is for database user \"" + route.username +
                         "\" but the client asked for \"" + startup_user + "\"; connect as \"" +
                         route.username + "\" or run 'tsh db login --db-user=" + startup_user + " " +
                         route.service_name + "'");
  if (route.database.empty()) return startup_database;
  if (!startup_database.empty() && startup_database != route.database)
    return access_denied("the certificate is for database name \"" + route.database +
                         "\" but the client asked for \"" + startup_database + "\"; connect to \"" +
                         route.database + "\" or run 'tsh db login --db-name=" + startup_database + " " +
                         route.service_name + "'");
  return route.database;
}

AccessDecision authorize_session(const std::vector<Role>& roles, const SessionInfo& s) {
  DatabaseAccessRequest request;
  request.db_labels = s.db.all_labels();
  request.db_user = s.db_user;
  request.db_name = s.db_name;
  request.service_name = s.db.name;
  return check_database_access(roles, s.identity.traits, request);
}

namespace {

// Query text is whatever the client sent; invalid UTF-8 would make the event
// unencodable, so such bytes become U+FFFD.
std::string sanitize_utf8(std::string_view text) {
  std::string quoted = json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
  return json::parse(quoted).get<std::string>();
}

json base_event(const char* type, const SessionInfo& s, TimePoint now) {
  return json{{"event", type},
              {"time", format_rfc3339(now)},
              {"user", s.identity.username},
              {"sid", s.sid},
              {"db_service", s.db.name},
              {"db_protocol", s.db.protocol},
              {"db_uri", s.db.uri},
              {"db_user", s.db_user},
              {"db_name", s.db_name},
              {"addr.remote", s.client_addr}};
}

}  // namespace

json session_start_event(const SessionInfo& s, const Status& outcome, TimePoint now) {
  json e = base_event(events::kDbSessionStart, s, now);
  e["success"] = outcome.ok();
  e["code"] = events::code_for(events::kDbSessionStart, outcome.ok());
  if (!outcome.ok()) e["error"] = outcome.error().message;
  e["db_roles"] = s.identity.roles;
  return e;
}

json session_end_event(const SessionInfo& s, TimePoint started, TimePoint now) {
  json e = base_event(events::kDbSessionEnd, s, now);
  e["success"] = true;
  e["code"] = events::code_for(events::kDbSessionEnd, true);
  e["session_start"] = format_rfc3339(started);
  return e;
}

json session_query_event(const SessionInfo& s, std::string_view query,
                         const std::vector<std::string>& parameters, TimePoint now) {
  json e = base_event(events::kDbSessionQuery, s, now);
  e["success"] = true;
  e["code"] = events::code_for(events::kDbSessionQuery, true);
  e["db_query"] = sanitize_utf8(query);
  e["db_query_parameters"] = json::array();
  for (const auto& p : parameters) e["db_query_parameters"].push_back(sanitize_utf8(p));
  e["db_query_parameters_count"] = parameters.size();
  return e;
}

std::string expired_session_message(const SessionInfo& s) {
  return "your certificate for database \"" + s.db.name + "\" expired at " +
         format_rfc3339(s.identity.expires) + "; log in again with 'tsh login' and 'tsh db login " +
         s.db.name + "'";
}

const char* relay_end_name(RelayEnd end) {
  switch (end) {
    case RelayEnd::kClientClosed:
      return "client closed";
    case RelayEnd::kServerClosed:
      return "server closed";
    case RelayEnd::kCertificateExpired:
      return "certificate expired";
    case RelayEnd::kShutdown:
      return "agent shutting down";
    case RelayEnd::kClientProtocolError:
      return "client protocol error";
    case RelayEnd::kServerProtocolError:
      return "server protocol error";
  }
  return "unknown";
}

}  // namespace tp::db
