// What every engine session uses, owned by the Database Service and shared by
// all sessions of the agent. Asio-heavy: include from .cc files only.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <string>
#include <vector>

#include "auth/types.h"
#include "common/clock.h"
#include "common/rng.h"
#include "db/audit_log.h"
#include "db/role_cache.h"
#include "db/session.h"
#include "db/session_tracker.h"
#include "db/upstream_credentials.h"
#include "db/upstream_tls.h"

namespace tp::db {

// What letting a session in needs from the Auth Service and the credentials (admit_session).
struct Admission {
  Result<std::vector<Role>> roles = std::vector<Role>{};  // an error: they could not be read
  AccessDecision decision;                                // when the roles were read
  Result<std::string> password = not_found("not asked for: the session is not allowed");
};

// The blocking part of letting session `s` in, for one trip to the worker pool (each trip is two
// thread hops on the way to the first query): the user's roles (fetched when the cache is stale),
// the access decision, and, only when allowed, the database password (a file, or an RDS IAM
// token that may need AWS).
inline Admission admit_session(RoleCache& roles, UpstreamCredentials& credentials, const SessionInfo& s) {
  Admission out;
  out.roles = roles.roles_named(s.identity.roles);
  if (!out.roles.ok()) return out;
  out.decision = authorize_session(*out.roles, s);
  if (out.decision.allowed) out.password = credentials.password(s.db, s.db_user);
  return out;
}

struct AgentContext {
  const Clock& clock;
  Rng& rng;
  std::vector<Database> databases;
  std::function<std::vector<std::string>()> user_cas;  // current user CAs (they may rotate)
  RoleCache& roles;
  AuditLog& audit;
  UpstreamCredentials& credentials;
  UpstreamTlsMap& upstream_tls;
  SessionTracker& sessions;
  boost::asio::thread_pool& blocking;  // for calls that block (Auth Service, AWS)

  Admission admit(const SessionInfo& s) const { return admit_session(roles, credentials, s); }

  const Database* find_database(const std::string& name) const {
    for (const auto& db : databases)
      if (db.name == name) return &db;
    return nullptr;
  }
};

}  // namespace tp::db
