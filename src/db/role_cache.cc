#include "db/role_cache.h"

#include "common/log.h"

namespace tp::db {

RoleCache::RoleCache(RoleFetcher fetch, const Clock& clock, std::chrono::seconds ttl,
                     std::chrono::seconds max_stale)
    : fetch_(std::move(fetch)), clock_(clock), ttl_(ttl), max_stale_(max_stale) {}

Result<std::vector<Role>> RoleCache::current(bool refresh) {
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  if (have_ && !refresh && now - fetched_ < ttl_) return roles_;
  auto fetched = fetch_();
  if (fetched.ok()) {
    roles_ = std::move(*fetched);
    fetched_ = now;
    have_ = true;
    return roles_;
  }
  if (have_ && now - fetched_ < max_stale_) {
    log::warn("db", "cannot refresh roles; using the last known ones", {{"error", fetched.error().message}});
    return roles_;
  }
  return fetched.error().wrap("fetching roles from the Auth Service");
}

Result<std::vector<Role>> RoleCache::roles_named(const std::vector<std::string>& names) {
  auto pick = [&](const std::vector<Role>& all) -> Result<std::vector<Role>> {
    std::vector<Role> out;
    for (const auto& name : names) {
      auto it = std::find_if(all.begin(), all.end(), [&](const Role& r) { return r.name == name; });
      if (it == all.end())
        return not_found("role \"" + name + "\" from the user's certificate does not exist any more");
      out.push_back(*it);
    }
    return out;
  };
  TP_TRY(auto all, current(false));
  auto picked = pick(all);
  if (picked.ok()) return picked;
  // A role created since the last fetch: look again before refusing.
  TP_TRY(all, current(true));
  return pick(all);
}

}  // namespace tp::db
