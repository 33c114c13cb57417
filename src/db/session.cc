#include "db/session.h"

#include <algorithm>

#include "crypto/certs.h"

namespace tp::db {

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

// The fields every session event carries, in the reference's names: these four, then the session's.
JsonObjectWriter base_event(const char* type, const SessionEventFields& session, TimePoint now, bool success,
                            size_t room = 0) {
  JsonObjectWriter e(session.fields().size() + room + 128);
  e.add("event", type)
      .add("code", events::code_for(type, success))
      .add("success", success)
      .add("time", format_rfc3339(now))
      .add_fields_of(session.fields());
  return e;
}

}  // namespace

SessionEventFields::SessionEventFields(const SessionInfo& s) {
  fields_.add("user", s.identity.username)
      .add("sid", s.sid)
      .add("db_service", s.db.name)
      .add("db_protocol", s.db.protocol)
      .add("db_uri", s.db.uri)
      .add("db_user", s.db_user)
      .add("db_name", s.db_name)
      .add("addr.remote", s.client_addr);
}

JsonObjectWriter session_start_event(const SessionInfo& s, const Status& outcome, TimePoint now) {
  JsonObjectWriter e = base_event(events::kDbSessionStart, SessionEventFields(s), now, outcome.ok());
  if (!outcome.ok()) e.add("error", outcome.error().message);
  e.add("db_roles", s.identity.roles);
  return e;
}

JsonObjectWriter session_end_event(const SessionInfo& s, TimePoint started, TimePoint now) {
  JsonObjectWriter e = base_event(events::kDbSessionEnd, SessionEventFields(s), now, true);
  e.add("session_start", format_rfc3339(started));
  return e;
}

JsonObjectWriter session_query_event(const SessionEventFields& session, std::string_view query,
                                     const std::vector<std::string>& parameters, TimePoint now) {
  size_t room = std::min(query.size(), kMaxAuditedQueryBytes);
  for (const auto& p : parameters) room += std::min(p.size(), kMaxAuditedParameterBytes) + 3;
  JsonObjectWriter e = base_event(events::kDbSessionQuery, session, now, true, room);
  // A multi-megabyte statement (a bulk INSERT) is recorded by its head and its
  // size: the event must fit an upload batch, and the head shows what it was.
  // The writer replaces invalid UTF-8 (a cut through a character included).
  bool truncated = query.size() > kMaxAuditedQueryBytes;
  e.add("db_query", query.substr(0, kMaxAuditedQueryBytes));
  std::vector<std::string_view> params;
  params.reserve(parameters.size());
  for (const auto& p : parameters) {
    truncated = truncated || p.size() > kMaxAuditedParameterBytes;
    params.emplace_back(std::string_view(p).substr(0, kMaxAuditedParameterBytes));
  }
  if (truncated) e.add("db_query_truncated", true).add("db_query_bytes", query.size());
  e.add("db_query_parameters", params).add("db_query_parameters_count", parameters.size());
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
