// The access decisions of DESIGN section 4: deny always wins; no matching allow means no access.
#include "rbac/access.h"

#include <algorithm>

#include "common/strings.h"
#include "rbac/internal/matchers.h"

namespace tp {
namespace {

using rbac_internal::match_any;
using rbac_internal::match_labels;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string role_list(const std::vector<std::string>& names) { return "[" + join(names, ", ") + "]"; }

std::string role_list(const std::vector<Role>& roles) {
  std::vector<std::string> names;
  for (const auto& r : roles) names.push_back(r.name);
  return role_list(names);
}

std::string value_list(const std::vector<std::string>& values) { return values.empty() ? "none" : join(values, ", "); }

void append_unique(std::vector<std::string>& into, const std::vector<std::string>& values) {
  for (const auto& v : values)
    if (std::find(into.begin(), into.end(), v) == into.end()) into.push_back(v);
}

// " on database \"rds-example\"", or nothing when the caller did not name the database.
std::string on_database(const DatabaseAccessRequest& r) {
  return r.service_name.empty() ? "" : " on database " + quoted(r.service_name);
}

std::string the_database(const DatabaseAccessRequest& r) {
  return r.service_name.empty() ? "the database" : "database " + quoted(r.service_name);
}

// A deny rule without db_users and db_names (as written, before trait expansion) denies the whole
// database its labels match. Judged on the written lists so that a deny on a missing trait
// ({{external.blocked}} for a user without it) does not turn into "deny everything".
bool denies_whole_database(const RoleConditions& deny) { return deny.db_users.empty() && deny.db_names.empty(); }

AccessDecision denied(std::string reason) { return {false, std::move(reason)}; }

}  // namespace

AccessDecision check_database_access(const std::vector<Role>& roles, const Traits& traits,
                                     const DatabaseAccessRequest& request) {
  const std::string user_target = "db user " + quoted(request.db_user) + on_database(request);
  const std::string name_target = "database name " + quoted(request.db_name) + on_database(request);
  if (roles.empty()) return denied("access to " + the_database(request) + " denied: the user has no roles");

  for (const auto& role : roles) {
    if (!match_labels(role.deny.db_labels, traits, request.db_labels)) continue;
    const std::string by_role = " denied by role " + quoted(role.name);
    if (denies_whole_database(role.deny))
      return denied("access to " + the_database(request) + by_role + " (its deny db_labels match the database)");
    if (match_any(expand_traits(role.deny.db_users, traits), request.db_user))
      return denied("access to " + user_target + by_role);
    if (!request.db_name.empty() && match_any(expand_traits(role.deny.db_names, traits), request.db_name))
      return denied("access to " + name_target + by_role);
  }

  std::vector<std::string> label_roles;  // roles whose allow db_labels match
  std::vector<std::string> user_roles;   // ... and whose db_users allow the user
  std::vector<std::string> allowed_users;
  std::vector<std::string> allowed_names;
  for (const auto& role : roles) {
    if (!match_labels(role.allow.db_labels, traits, request.db_labels)) continue;
    label_roles.push_back(role.name);
    std::vector<std::string> users = expand_traits(role.allow.db_users, traits);
    append_unique(allowed_users, users);
    if (!match_any(users, request.db_user)) continue;
    user_roles.push_back(role.name);
    if (request.db_name.empty()) return {true, "access to " + user_target + " allowed by role " + quoted(role.name)};
    std::vector<std::string> names = expand_traits(role.allow.db_names, traits);
    append_unique(allowed_names, names);
    if (match_any(names, request.db_name))
      return {true, "access to db user " + quoted(request.db_user) + " and database name " + quoted(request.db_name) +
                        on_database(request) + " allowed by role " + quoted(role.name)};
  }

  if (label_roles.empty()) {
    std::string labels = request.db_labels.empty() ? "none" : format_labels(request.db_labels);
    return denied("access to " + the_database(request) + " denied: the db_labels of roles " + role_list(roles) +
                  " do not match its labels (" + labels + ")");
  }
  if (user_roles.empty())
    return denied("access to " + user_target + " denied: not allowed by roles " + role_list(label_roles) +
                  " (allowed db users: " + value_list(allowed_users) + ")");
  return denied("access to " + name_target + " denied: not allowed by roles " + role_list(user_roles) +
                " (allowed db names: " + value_list(allowed_names) + ")");
}

bool can_see_database(const std::vector<Role>& roles, const Traits& traits, const Labels& db_labels) {
  for (const auto& role : roles)
    if (denies_whole_database(role.deny) && match_labels(role.deny.db_labels, traits, db_labels)) return false;
  return std::any_of(roles.begin(), roles.end(),
                     [&](const Role& role) { return match_labels(role.allow.db_labels, traits, db_labels); });
}

AccessDecision check_resource_access(const std::vector<Role>& roles, const std::string& resource,
                                     const std::string& verb) {
  auto matches = [&](const ResourceRule& rule) {
    auto has = [](const std::vector<std::string>& list, const std::string& v) {
      return std::find(list.begin(), list.end(), v) != list.end() ||
             std::find(list.begin(), list.end(), "*") != list.end();
    };
    return has(rule.resources, resource) && has(rule.verbs, verb);
  };
  const std::string target = "access to " + quoted(verb) + " on " + quoted(resource);
  for (const auto& role : roles)
    if (std::any_of(role.deny.rules.begin(), role.deny.rules.end(), matches))
      return denied(target + " denied by role " + quoted(role.name));
  for (const auto& role : roles)
    if (std::any_of(role.allow.rules.begin(), role.allow.rules.end(), matches))
      return {true, target + " allowed by role " + quoted(role.name)};
  return denied(target + " denied: no rule in roles " + role_list(roles) +
                " allows it; ask an administrator for a role that does");
}

std::chrono::seconds max_session_ttl(const std::vector<Role>& roles) {
  if (roles.empty()) return RoleOptions{}.max_session_ttl;
  std::chrono::seconds ttl = roles.front().options.max_session_ttl;
  for (const auto& role : roles) ttl = std::min(ttl, role.options.max_session_ttl);
  return ttl;
}

}  // namespace tp
