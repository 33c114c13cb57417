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

// The length of the valid UTF-8 sequence at text[i], or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence_length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

// Query text is whatever the client sent; invalid UTF-8 would make the event
// unencodable, so each invalid byte becomes U+FFFD. Runs for every query:
// valid text (nearly all of it) is copied once and not otherwise touched.
std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

// Built key by key: nlohmann's initializer-list form copies every value twice,
// and this runs once per query.
json base_event(const char* type, const SessionInfo& s, TimePoint now) {
  json e(json::value_t::object);
  e.emplace("event", type);
  e.emplace("time", format_rfc3339(now));
  e.emplace("user", s.identity.username);
  e.emplace("sid", s.sid);
  e.emplace("db_service", s.db.name);
  e.emplace("db_protocol", s.db.protocol);
  e.emplace("db_uri", s.db.uri);
  e.emplace("db_user", s.db_user);
  e.emplace("db_name", s.db_name);
  e.emplace("addr.remote", s.client_addr);
  return e;
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
  // A multi-megabyte statement (a bulk INSERT) is recorded by its head and its
  // size: the event must fit an upload batch, and the head shows what it was.
  bool truncated = false;
  auto capped = [&](std::string_view text, size_t limit) {
    if (text.size() <= limit) return sanitize_utf8(text);
    truncated = true;
    return sanitize_utf8(text.substr(0, limit));
  };
  e["db_query"] = capped(query, kMaxAuditedQueryBytes);
  json params(json::value_t::array);
  for (const auto& p : parameters) params.push_back(capped(p, kMaxAuditedParameterBytes));
  if (truncated) {
    e["db_query_truncated"] = true;
    e["db_query_bytes"] = query.size();
  }
  e["db_query_parameters"] = std::move(params);
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
