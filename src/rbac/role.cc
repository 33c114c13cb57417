#include "rbac/role.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace tp {
namespace {

using nlohmann::json;

Error field_error(const std::string& path, const std::string& what) { return invalid_argument(path + ": " + what); }

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Strict keys: a misspelt key in a security policy must not silently mean "no rule".
Status check_known_keys(const json& object, const std::string& path, std::initializer_list<const char*> known) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool found = std::any_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; });
    if (found) continue;
    std::vector<std::string> names(known.begin(), known.end());
    return field_error(join_path(path, it.key()), "unknown field (supported: " + join(names, ", ") + ")");
  }
  return {};
}

std::string type_name(const json& v) {
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_object()) return "a mapping";
  if (v.is_array()) return "a list";
  if (v.is_null()) return "empty";
  return "a string";
}

// A list of strings; a single string is a one-item list, null an empty one.
Result<std::vector<std::string>> parse_string_list(const json& v, const std::string& path) {
  if (v.is_null()) return std::vector<std::string>{};
  if (v.is_string()) return std::vector<std::string>{v.get<std::string>()};
  if (!v.is_array()) return field_error(path, "expected a list of strings, got " + type_name(v));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      return field_error(path + "[" + std::to_string(i) + "]",
                         "expected a string, got " + type_name(v[i]) + " (quote numbers and booleans)");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

Result<LabelMatchers> parse_label_matchers(const json& v, const std::string& path) {
  if (v.is_null()) return LabelMatchers{};
  if (!v.is_object()) return field_error(path, "expected a mapping of label to values, got " + type_name(v));
  LabelMatchers out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    std::string key_path = path + "." + it.key();
    if (it.key().empty()) return field_error(path, "a label key must not be empty");
    if (!it.value().is_string() && !it.value().is_array())
      return field_error(key_path, "expected a string or a list of strings, got " + type_name(it.value()));
    TP_TRY(out[it.key()], parse_string_list(it.value(), key_path));
  }
  return out;
}

Result<std::vector<ResourceRule>> parse_rules(const json& v, const std::string& path) {
  if (v.is_null()) return std::vector<ResourceRule>{};
  if (!v.is_array()) return field_error(path, "expected a list of {resources, verbs}, got " + type_name(v));
  std::vector<ResourceRule> out;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string rule_path = path + "[" + std::to_string(i) + "]";
    const json& item = v[i];
    if (!item.is_object()) return field_error(rule_path, "expected a mapping with resources and verbs");
    TP_CHECK(check_known_keys(item, rule_path, {"resources", "verbs"}));
    ResourceRule rule;
    TP_TRY(rule.resources, parse_string_list(item.value("resources", json()), rule_path + ".resources"));
    TP_TRY(rule.verbs, parse_string_list(item.value("verbs", json()), rule_path + ".verbs"));
    if (rule.resources.empty()) return field_error(rule_path + ".resources", "must list at least one resource");
    if (rule.verbs.empty()) return field_error(rule_path + ".verbs", "must list at least one verb");
    out.push_back(std::move(rule));
  }
  return out;
}

Result<RoleConditions> parse_conditions(const json& v, const std::string& path) {
  RoleConditions out;
  if (v.is_null()) return out;
  if (!v.is_object()) return field_error(path, "expected a mapping, got " + type_name(v));
  TP_CHECK(check_known_keys(v, path, {"db_labels", "db_names", "db_users", "logins", "rules"}));
  TP_TRY(out.db_labels, parse_label_matchers(v.value("db_labels", json()), path + ".db_labels"));
  TP_TRY(out.db_names, parse_string_list(v.value("db_names", json()), path + ".db_names"));
  TP_TRY(out.db_users, parse_string_list(v.value("db_users", json()), path + ".db_users"));
  TP_TRY(out.logins, parse_string_list(v.value("logins", json()), path + ".logins"));
  TP_TRY(out.rules, parse_rules(v.value("rules", json()), path + ".rules"));
  return out;
}

Result<RoleOptions> parse_options(const json& v, const std::string& path) {
  RoleOptions out;
  if (v.is_null()) return out;
  if (!v.is_object()) return field_error(path, "expected a mapping, got " + type_name(v));
  TP_CHECK(check_known_keys(v, path, {"max_session_ttl"}));
  if (v.contains("max_session_ttl")) {
    const json& ttl = v["max_session_ttl"];
    std::string ttl_path = path + ".max_session_ttl";
    if (!ttl.is_string()) return field_error(ttl_path, "expected a duration such as \"8h\", got " + type_name(ttl));
    auto parsed = parse_duration(ttl.get<std::string>());
    if (!parsed) return field_error(ttl_path, parsed.error().message);
    if (parsed->count() <= 0) return field_error(ttl_path, "must be longer than zero");
    out.max_session_ttl = *parsed;
  }
  return out;
}

bool valid_role_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '-';
  });
}

// Go's time.Duration spelling without the zero parts: 12h, 1h30m, 90s -> 1m30s.
std::string format_duration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s == 0) return "0s";
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60) out += std::to_string(s % 60) + "s";
  return out;
}

json conditions_to_json(const RoleConditions& c) {
  json out = json::object();
  if (!c.db_labels.empty()) {
    json labels = json::object();
    // One value reads as `env: dev`, several as a list, as the reference prints them.
    for (const auto& [key, values] : c.db_labels) labels[key] = values.size() == 1 ? json(values[0]) : json(values);
    out["db_labels"] = labels;
  }
  if (!c.db_names.empty()) out["db_names"] = c.db_names;
  if (!c.db_users.empty()) out["db_users"] = c.db_users;
  if (!c.logins.empty()) out["logins"] = c.logins;
  if (!c.rules.empty()) {
    json rules = json::array();
    for (const auto& r : c.rules) rules.push_back({{"resources", r.resources}, {"verbs", r.verbs}});
    out["rules"] = rules;
  }
  return out;
}

}  // namespace

Result<Role> role_from_json(const nlohmann::json& resource) {
  if (!resource.is_object()) return invalid_argument("role: expected a mapping with kind, version, metadata and spec");
  TP_CHECK(check_known_keys(resource, "", {"kind", "version", "metadata", "spec"}));
  if (!resource.contains("kind")) return field_error("kind", "missing (expected \"role\")");
  if (resource["kind"] != "role") return field_error("kind", "expected \"role\", got " + resource["kind"].dump());

  Role role;
  if (resource.contains("version")) {
    const json& version = resource["version"];
    if (version != "v5" && version != "v6" && version != "v7")
      return field_error("version", "unsupported role version " + version.dump() + " (supported: v5, v6, v7)");
    role.version = version.get<std::string>();
  }

  const json metadata = resource.value("metadata", json());
  if (metadata.is_null()) return field_error("metadata", "missing; a role needs metadata.name");
  if (!metadata.is_object()) return field_error("metadata", "expected a mapping, got " + type_name(metadata));
  // revision and namespace are written by the backend and the reference's tctl; they carry no policy.
  TP_CHECK(check_known_keys(metadata, "metadata", {"name", "description", "namespace", "revision"}));
  const json name = metadata.value("name", json());
  if (!name.is_string() || name.get<std::string>().empty()) return field_error("metadata.name", "missing");
  role.name = name.get<std::string>();
  if (!valid_role_name(role.name))
    return field_error("metadata.name", "\"" + role.name + "\" may use only letters, digits and . _ @ -");
  if (metadata.contains("description")) {
    if (!metadata["description"].is_string()) return field_error("metadata.description", "expected a string");
    role.description = metadata["description"].get<std::string>();
  }

  const json spec = resource.value("spec", json());
  if (spec.is_null()) return role;  // a role with no spec grants nothing
  if (!spec.is_object()) return field_error("spec", "expected a mapping, got " + type_name(spec));
  TP_CHECK(check_known_keys(spec, "spec", {"options", "allow", "deny"}));
  TP_TRY(role.options, parse_options(spec.value("options", json()), "spec.options"));
  TP_TRY(role.allow, parse_conditions(spec.value("allow", json()), "spec.allow"));
  TP_TRY(role.deny, parse_conditions(spec.value("deny", json()), "spec.deny"));
  return role;
}

nlohmann::json role_to_json(const Role& role) {
  json metadata = {{"name", role.name}};
  if (!role.description.empty()) metadata["description"] = role.description;
  return {
      {"kind", "role"},
      {"version", role.version},
      {"metadata", metadata},
      {"spec",
       {{"options", {{"max_session_ttl", format_duration(role.options.max_session_ttl)}}},
        {"allow", conditions_to_json(role.allow)},
        {"deny", conditions_to_json(role.deny)}}},
  };
}

std::vector<Role> builtin_roles() {
  std::vector<Role> roles;

  // access: connect to every database, as the database users and names stored in the user's
  // traits (`tctl users add --db-users=a,b --db-names=x,y`); nothing else. DESIGN section 4.
  Role access;
  access.name = "access";
  access.description = "Connect to any database as the db users and db names in the user's traits";
  access.allow.db_labels = {{"*", {"*"}}};
  access.allow.db_names = {"{{internal.db_names}}"};
  access.allow.db_users = {"{{internal.db_users}}"};
  access.allow.logins = {"{{internal.logins}}"};
  roles.push_back(access);

  // editor: manage the cluster's resources (users, roles, join tokens, databases and their agents)
  // through tctl; no database connections and no audit log.
  Role editor;
  editor.name = "editor";
  editor.description = "Manage users, roles, join tokens and databases";
  editor.allow.rules = {{{"user", "role", "token", "db", "db_server"}, {"*"}}};
  roles.push_back(editor);

  // auditor: read the audit log and session records; changes nothing.
  Role auditor;
  auditor.name = "auditor";
  auditor.description = "Read audit events and sessions";
  auditor.allow.rules = {{{"event", "session"}, {"list", "read"}}};
  roles.push_back(auditor);

  return roles;
}

}  // namespace tp
