// Who a certificate speaks for. Encoded into and decoded from X.509 certificates
// (crypto/certs.h) under fixed OIDs; one function each way, round-trip tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace tp {

// user -> values, e.g. {"db_users": ["alice", "readonly"], "db_names": ["*"]}.
using Traits = std::map<std::string, std::vector<std::string>>;

// The database a database-access certificate is good for (DESIGN section 2, step 2).
struct DatabaseRoute {
  std::string service_name;  // the registered database's name, e.g. "rds-example"
  std::string protocol;      // "postgres" or "mysql"
  std::string username;      // database user
  std::string database;      // logical database; may be empty
  bool operator==(const DatabaseRoute&) const = default;
};

enum class IdentityKind { kUser, kHost };

// Built-in host roles (what a host certificate lets its holder do).
inline constexpr const char* kHostRoleAuth = "Auth";
inline constexpr const char* kHostRoleProxy = "Proxy";
inline constexpr const char* kHostRoleDb = "Db";
inline constexpr const char* kHostRoleAdmin = "Admin";  // the local admin identity tctl uses on the auth host

struct Identity {
  IdentityKind kind = IdentityKind::kUser;
  std::string username;             // user name, or host id for host certs
  std::vector<std::string> roles;   // user roles, or the one host role
  Traits traits;
  std::optional<DatabaseRoute> route;
  std::string cluster_name;
  TimePoint expires{};              // mirrors the certificate's notAfter
  bool operator==(const Identity&) const = default;

  bool is_host_role(const std::string& role) const {
    return kind == IdentityKind::kHost && roles.size() == 1 && roles[0] == role;
  }
};

}  // namespace tp
