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
#include "db/session_tracker.h"
#include "db/upstream_credentials.h"
#include "db/upstream_tls.h"

namespace tp::db {

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

  const Database* find_database(const std::string& name) const {
    for (const auto& db : databases)
      if (db.name == name) return &db;
    return nullptr;
  }
};

}  // namespace tp::db
