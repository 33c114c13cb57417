// Roles: the YAML resources of DESIGN section 4, in the reference's shape.
//
//   kind: role
//   version: v7
//   metadata: {name: db-reader}
//   spec:
//     options: {max_session_ttl: 8h}
//     allow:
//       db_labels: {env: [dev, staging]}   # or {'*': '*'}; a value may be a string or a list
//       db_names: ['{{internal.db_names}}']
//       db_users: ['{{internal.db_users}}', readonly]
//       rules: [{resources: [user, role], verbs: [list, read]}]
//     deny: {...same shape...}
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"

namespace tp {

using Labels = std::map<std::string, std::string>;
// label key -> allowed values (each a literal, '*', glob or ^regex$, or a trait template)
using LabelMatchers = std::map<std::string, std::vector<std::string>>;

struct ResourceRule {
  std::vector<std::string> resources;  // "user", "role", "token", "db", "event", "*", ...
  std::vector<std::string> verbs;      // "list", "read", "create", "update", "delete", "*"
  bool operator==(const ResourceRule&) const = default;
};

struct RoleConditions {
  LabelMatchers db_labels;
  std::vector<std::string> db_names;
  std::vector<std::string> db_users;
  std::vector<std::string> logins;
  std::vector<ResourceRule> rules;
  bool operator==(const RoleConditions&) const = default;
};

struct RoleOptions {
  std::chrono::seconds max_session_ttl{12 * 3600};
  bool operator==(const RoleOptions&) const = default;
};

struct Role {
  std::string name;
  std::string version = "v7";
  std::string description;
  RoleOptions options;
  RoleConditions allow;
  RoleConditions deny;
  bool operator==(const Role&) const = default;
};

// From the resource as JSON (YAML is converted to JSON first, see common/yaml_json.h).
// Errors name the field path, e.g. "spec.allow.db_users: expected a list of strings".
Result<Role> role_from_json(const nlohmann::json& resource);
nlohmann::json role_to_json(const Role& role);

// Built-in roles: "access", "editor", "auditor" (see docs/rbac.md).
std::vector<Role> builtin_roles();

}  // namespace tp
