// Roles for access decisions, fetched from the Auth Service and kept for a
// few seconds: a burst of connections costs one fetch, and a role change
// reaches the agent within the TTL. Thread-safe; fetches block.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "rbac/role.h"

namespace tp::db {

using RoleFetcher = std::function<Result<std::vector<Role>>()>;

class RoleCache {
 public:
  RoleCache(RoleFetcher fetch, const Clock& clock, std::chrono::seconds ttl = std::chrono::seconds(3),
            std::chrono::seconds max_stale = std::chrono::minutes(5));

  // The roles with these names; a name no role has is an error (as the Auth
  // Service treats it), after one fresh fetch in case the role is new. When a
  // refresh fails, roles up to `max_stale` old serve.
  Result<std::vector<Role>> roles_named(const std::vector<std::string>& names);

 private:
  Result<std::vector<Role>> current(bool refresh);

  RoleFetcher fetch_;
  const Clock& clock_;
  std::chrono::seconds ttl_, max_stale_;
  std::mutex mu_;
  std::vector<Role> roles_;
  TimePoint fetched_{};
  bool have_ = false;
};

}  // namespace tp::db
