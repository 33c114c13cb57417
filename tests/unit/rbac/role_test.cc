#include "rbac/role.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/yaml_json.h"
#include "rbac/access.h"

namespace tp {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

Result<Role> parse_role(const std::string& yaml) {
  auto j = yaml_to_json(yaml);
  if (!j) return j.error();
  return role_from_json(*j);
}

// The error message for a role whose spec is `spec_yaml`.
std::string spec_error(const std::string& spec_yaml) {
  auto r = parse_role("kind: role\nmetadata: {name: r}\nspec:\n" + spec_yaml);
  EXPECT_FALSE(r.ok()) << "parsed: " << spec_yaml;
  return r.ok() ? "" : r.error().message;
}

const char* kDbReader = R"(
kind: role
version: v7
metadata:
  name: db-reader
  description: Read-only access to dev databases
spec:
  options:
    max_session_ttl: 8h
  allow:
    db_labels:
      env: [dev, staging]
      team: db
    db_names: ['{{internal.db_names}}']
    db_users: ['{{internal.db_users}}', readonly]
    logins: ubuntu
    rules:
      - resources: [user, role]
        verbs: [list, read]
  deny:
    db_users: [postgres]
    db_labels: {'*': '*'}
)";

TEST(RoleFromJson, ParsesTheDocumentedShape) {
  auto r = parse_role(kDbReader);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "db-reader");
  EXPECT_EQ(r->version, "v7");
  EXPECT_EQ(r->description, "Read-only access to dev databases");
  EXPECT_EQ(r->options.max_session_ttl, 8h);
  EXPECT_EQ(r->allow.db_labels, (LabelMatchers{{"env", {"dev", "staging"}}, {"team", {"db"}}}));
  EXPECT_THAT(r->allow.db_names, ElementsAre("{{internal.db_names}}"));
  EXPECT_THAT(r->allow.db_users, ElementsAre("{{internal.db_users}}", "readonly"));
  EXPECT_THAT(r->allow.logins, ElementsAre("ubuntu"));  // a single string is a one-item list
  ASSERT_EQ(r->allow.rules.size(), 1u);
  EXPECT_EQ(r->allow.rules[0], (ResourceRule{{"user", "role"}, {"list", "read"}}));
  EXPECT_THAT(r->deny.db_users, ElementsAre("postgres"));
  EXPECT_EQ(r->deny.db_labels, (LabelMatchers{{"*", {"*"}}}));
}

TEST(RoleFromJson, DefaultsAndOlderVersions) {
  auto r = parse_role("kind: role\nmetadata: {name: bare}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, "v7");
  EXPECT_EQ(r->options.max_session_ttl, 12h);
  EXPECT_EQ(r->allow, RoleConditions{});
  for (const char* v : {"v5", "v6", "v7"}) {
    auto versioned = parse_role(std::string("kind: role\nversion: ") + v + "\nmetadata: {name: x}\n");
    ASSERT_TRUE(versioned.ok()) << v << ": " << versioned.error().message;
    EXPECT_EQ(versioned->version, v);
  }
}

TEST(RoleFromJson, NamesMayUseDotsAtSignsDashesUnderscores) {
  auto r = parse_role("kind: role\nmetadata: {name: team.db-admins_2@corp}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "team.db-admins_2@corp");
}

struct ErrorCase {
  const char* yaml;
  const char* error;  // the whole message
};

TEST(RoleFromJson, TopLevelErrorsNameTheField) {
  const ErrorCase cases[] = {
      {"metadata: {name: r}\n", "kind: missing (expected \"role\")"},
      {"kind: user\nmetadata: {name: r}\n", "kind: expected \"role\", got \"user\""},
      {"kind: role\nversion: v3\nmetadata: {name: r}\n",
       "version: unsupported role version \"v3\" (supported: v5, v6, v7)"},
      {"kind: role\nversion: 7\nmetadata: {name: r}\n", "version: unsupported role version 7 (supported: v5, v6, v7)"},
      {"kind: role\n", "metadata: missing; a role needs metadata.name"},
      {"kind: role\nmetadata: r\n", "metadata: expected a mapping, got a string"},
      {"kind: role\nmetadata: {}\n", "metadata.name: missing"},
      {"kind: role\nmetadata: {name: ''}\n", "metadata.name: missing"},
      {"kind: role\nmetadata: {name: 'db reader'}\n",
       "metadata.name: \"db reader\" may use only letters, digits and . _ @ -"},
      {"kind: role\nmetadata: {name: r, lables: {a: b}}\n",
       "metadata.lables: unknown field (supported: name, description, namespace, revision)"},
      {"kind: role\nmetadata: {name: r}\nspecs: {}\n",
       "specs: unknown field (supported: kind, version, metadata, spec)"},
      {"kind: role\nmetadata: {name: r}\nspec: [a]\n", "spec: expected a mapping, got a list"},
      {"[1, 2]", "role: expected a mapping with kind, version, metadata and spec"},
  };
  for (const auto& c : cases) {
    auto r = parse_role(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().message, c.error) << c.yaml;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(RoleFromJson, SpecErrorsNameThePath) {
  const ErrorCase cases[] = {
      {"  allow: {db_userz: [alice]}\n", "spec.allow.db_userz: unknown field"},
      {"  deny: {node_labels: {a: b}}\n", "spec.deny.node_labels: unknown field"},
      {"  allow: {db_users: [alice, 5]}\n", "spec.allow.db_users[1]: expected a string, got a number"},
      {"  allow: {db_names: {a: b}}\n", "spec.allow.db_names: expected a list of strings, got a mapping"},
      {"  allow: {logins: [true]}\n", "spec.allow.logins[0]: expected a string, got a boolean"},
      {"  allow: {db_labels: [env]}\n", "spec.allow.db_labels: expected a mapping of label to values, got a list"},
      {"  deny: {db_labels: {env: 5}}\n",
       "spec.deny.db_labels.env: expected a string or a list of strings, got a number"},
      {"  deny: {db_labels: {env: ~}}\n", "spec.deny.db_labels.env: expected a string or a list of strings, got empty"},
      {"  allow: {db_labels: {env: [dev, 1]}}\n", "spec.allow.db_labels.env[1]: expected a string, got a number"},
      {"  allow: {rules: {resources: [user]}}\n",
       "spec.allow.rules: expected a list of {resources, verbs}, got a mapping"},
      {"  allow: {rules: [{resources: [user]}]}\n", "spec.allow.rules[0].verbs: must list at least one verb"},
      {"  allow: {rules: [{verbs: [list]}]}\n", "spec.allow.rules[0].resources: must list at least one resource"},
      {"  deny:\n    rules:\n      - {resources: [user], verbs: [list]}\n      - {resources: [db], verbs: ['*'], "
       "where: x}\n",
       "spec.deny.rules[1].where: unknown field"},
      {"  allow: x\n", "spec.allow: expected a mapping, got a string"},
      {"  options: {max_session_ttl: 8x}\n", "spec.options.max_session_ttl: bad duration unit"},
      {"  options: {max_session_ttl: 3600}\n",
       "spec.options.max_session_ttl: expected a duration such as \"8h\", got a number"},
      {"  options: {max_session_ttl: 0s}\n", "spec.options.max_session_ttl: must be longer than zero"},
      {"  options: {forward_agent: true}\n", "spec.options.forward_agent: unknown field (supported: max_session_ttl)"},
      {"  allowed: {}\n", "spec.allowed: unknown field (supported: options, allow, deny)"},
  };
  for (const auto& c : cases) EXPECT_THAT(spec_error(c.yaml), StartsWith(c.error)) << c.yaml;
}

TEST(RoleFromJson, UnknownAllowFieldListsTheSupportedOnes) {
  EXPECT_EQ(spec_error("  allow: {db_userz: [alice]}\n"),
            "spec.allow.db_userz: unknown field (supported: db_labels, db_names, db_users, logins, rules)");
}

TEST(RoleFromJson, YamlErrorsKeepTheirLine) {
  auto r = parse_role("kind: role\nmetadata:\n  name: r\n spec: {}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("line 4:"));
}

TEST(RoleToJson, Shape) {
  Role r;
  r.name = "dev";
  r.options.max_session_ttl = 90min;
  r.allow.db_labels = {{"env", {"dev"}}, {"tier", {"a", "b"}}};
  r.allow.db_users = {"alice"};
  r.deny.rules = {{{"user"}, {"delete"}}};
  json expected = json::parse(R"({
    "kind": "role", "version": "v7", "metadata": {"name": "dev"},
    "spec": {
      "options": {"max_session_ttl": "1h30m"},
      "allow": {"db_labels": {"env": "dev", "tier": ["a", "b"]}, "db_users": ["alice"]},
      "deny": {"rules": [{"resources": ["user"], "verbs": ["delete"]}]}
    }})");
  EXPECT_EQ(role_to_json(r), expected);
}

TEST(RoleToJson, DurationsAreWrittenAsGoDurations) {
  auto ttl = [](std::chrono::seconds s) {
    Role r;
    r.name = "x";
    r.options.max_session_ttl = s;
    return role_to_json(r)["spec"]["options"]["max_session_ttl"].get<std::string>();
  };
  EXPECT_EQ(ttl(12h), "12h");
  EXPECT_EQ(ttl(30h), "30h");
  EXPECT_EQ(ttl(45s), "45s");
  EXPECT_EQ(ttl(1h + 1s), "1h1s");
  EXPECT_EQ(ttl(2min + 5s), "2m5s");
}

TEST(RoleRoundTrip, ThroughJsonAndYaml) {
  auto r = parse_role(kDbReader);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto again = role_from_json(role_to_json(*r));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *r);

  std::string yaml = json_to_yaml(role_to_json(*r));
  auto from_yaml = parse_role(yaml);
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.error().message << "\n" << yaml;
  EXPECT_EQ(*from_yaml, *r) << yaml;
}

TEST(RoleRoundTrip, BuiltinsSurviveYaml) {
  for (const Role& role : builtin_roles()) {
    auto back = parse_role(json_to_yaml(role_to_json(role)));
    ASSERT_TRUE(back.ok()) << role.name << ": " << back.error().message;
    EXPECT_EQ(*back, role) << role.name;
  }
}

const Role& find_builtin(const std::vector<Role>& roles, const std::string& name) {
  for (const auto& r : roles)
    if (r.name == name) return r;
  ADD_FAILURE() << "no builtin role " << name;
  return roles.front();
}

TEST(BuiltinRoles, Access) {
  auto roles = builtin_roles();
  ASSERT_EQ(roles.size(), 3u);
  const Role& access = find_builtin(roles, "access");
  EXPECT_EQ(access.allow.db_labels, (LabelMatchers{{"*", {"*"}}}));
  EXPECT_THAT(access.allow.db_users, ElementsAre("{{internal.db_users}}"));
  EXPECT_THAT(access.allow.db_names, ElementsAre("{{internal.db_names}}"));
  EXPECT_THAT(access.allow.logins, ElementsAre("{{internal.logins}}"));
  EXPECT_TRUE(access.allow.rules.empty());
  EXPECT_EQ(access.deny, RoleConditions{});
  EXPECT_EQ(access.options.max_session_ttl, 12h);
}

TEST(BuiltinRoles, EditorAndAuditorRules) {
  auto roles = builtin_roles();
  const Role& editor = find_builtin(roles, "editor");
  EXPECT_TRUE(editor.allow.db_labels.empty());  // manages databases, cannot connect to them
  ASSERT_EQ(editor.allow.rules.size(), 1u);
  EXPECT_THAT(editor.allow.rules[0].resources, ElementsAre("user", "role", "token", "db", "db_server"));
  EXPECT_THAT(editor.allow.rules[0].verbs, ElementsAre("*"));
  const Role& auditor = find_builtin(roles, "auditor");
  ASSERT_EQ(auditor.allow.rules.size(), 1u);
  EXPECT_THAT(auditor.allow.rules[0].resources, ElementsAre("event", "session"));
  EXPECT_THAT(auditor.allow.rules[0].verbs, ElementsAre("list", "read"));
}

TEST(BuiltinRoles, DecisionsMatchTheirDescriptions) {
  auto roles = builtin_roles();
  std::vector<Role> editor = {find_builtin(roles, "editor")};
  std::vector<Role> auditor = {find_builtin(roles, "auditor")};
  EXPECT_TRUE(check_resource_access(editor, "token", "create").allowed);
  EXPECT_FALSE(check_resource_access(editor, "event", "list").allowed);
  EXPECT_TRUE(check_resource_access(auditor, "event", "list").allowed);
  EXPECT_FALSE(check_resource_access(auditor, "event", "delete").allowed);
  EXPECT_FALSE(check_resource_access(auditor, "user", "read").allowed);
  EXPECT_FALSE(can_see_database(editor, {}, {{"env", "dev"}}));
  EXPECT_TRUE(can_see_database({find_builtin(roles, "access")}, {}, {{"env", "dev"}}));
}

}  // namespace
}  // namespace tp
