#include "rbac/access.h"

#include <cctype>
#include <ostream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/yaml_json.h"

namespace tp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

// A role from its spec, written as the user would write it in YAML (flow style to fit a table row).
Role role(const std::string& name, const std::string& spec) {
  auto j = yaml_to_json("kind: role\nmetadata: {name: " + name + "}\nspec: " + spec + "\n");
  EXPECT_TRUE(j.ok()) << j.error().message;
  auto r = role_from_json(*j);
  EXPECT_TRUE(r.ok()) << spec << ": " << r.error().message;
  return r.ok() ? *r : Role{};
}

Role builtin(const std::string& name) {
  for (const auto& r : builtin_roles())
    if (r.name == name) return r;
  return {};
}

const Traits kTraits = {
    {"db_users", {"alice", "bob"}},
    {"db_names", {"main", "analytics"}},
    {"team", {"payments"}},
};

const Labels kDev = {{"env", "dev"}, {"team", "db"}, {"region", "us-east-1"}};
const Labels kProd = {{"env", "prod"}, {"team", "db"}};

struct DbCase {
  const char* name;
  std::vector<Role> roles;
  Labels labels;
  std::string db_user;
  std::string db_name;
  bool allowed;
  std::string reason;  // a substring of the reason; empty: not checked
};

const char* kAll = "{allow: {db_labels: {'*': '*'}, db_users: ['*'], db_names: ['*']}}";

std::vector<DbCase> database_cases() {
  return {
      // Users: literal, '*', globs, regexes.
      {"literal user allowed", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: [alice], db_names: [main]}}")}, kDev,
       "alice", "main", true,
       "access to db user \"alice\" and database name \"main\" on database \"rds-example\" allowed by role \"r\""},
      {"literal user mismatch", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: [alice], db_names: [main]}}")}, kDev,
       "admin", "main", false,
       "access to db user \"admin\" on database \"rds-example\" denied: not allowed by roles [r] (allowed db users: alice)"},
      {"user match is case sensitive", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: [alice]}}")}, kDev, "Alice", "",
       false, "allowed db users: alice"},
      {"wildcard user", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['*']}}")}, kDev, "anyone", "", true, ""},
      {"glob suffix matches", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['read*']}}")}, kDev, "readonly", "",
       true, ""},
      {"glob suffix mismatch", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['read*']}}")}, kDev, "writer", "",
       false, "allowed db users: read*"},
      {"glob in the middle", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['app-*-ro']}}")}, kDev,
       "app-billing-ro", "", true, ""},
      {"glob treats dots literally", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['a.b*']}}")}, kDev, "axb1", "",
       false, ""},
      {"regex matches whole value", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['^dev-[0-9]+$']}}")}, kDev,
       "dev-42", "", true, ""},
      {"regex does not match a longer value", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['^dev-[0-9]+$']}}")},
       kDev, "xdev-42", "", false, ""},
      {"invalid regex never matches", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['^([$']}}")}, kDev, "^([$",
       "", false, ""},
      // Traits.
      {"internal trait allows", {builtin("access")}, kDev, "bob", "analytics", true, "allowed by role \"access\""},
      {"internal trait denies others", {builtin("access")}, kDev, "carol", "main", false,
       "access to db user \"carol\" on database \"rds-example\" denied: not allowed by roles [access] (allowed db users: "
       "alice, bob)"},
      {"external trait", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['{{external.team}}']}}")}, kDev,
       "payments", "", true, ""},
      {"spaces inside the template", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['{{ internal.db_users }}']}}")},
       kDev, "alice", "", true, ""},
      {"template with prefix", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['svc-{{external.team}}']}}")}, kDev,
       "svc-payments", "", true, ""},
      {"missing trait expands to nothing", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['{{internal.nope}}']}}")},
       kDev, "alice", "", false, "(allowed db users: none)"},
      {"malformed template is dropped", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: ['{{internal.}}', carol]}}")},
       kDev, "{{internal.}}", "", false, "(allowed db users: carol)"},
      // Database names.
      {"db name from trait", {builtin("access")}, kDev, "alice", "main", true, ""},
      {"db name not allowed", {builtin("access")}, kDev, "alice", "other", false,
       "access to database name \"other\" on database \"rds-example\" denied: not allowed by roles [access] (allowed db "
       "names: main, analytics)"},
      {"empty db name skips the name check", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: [alice]}}")}, kDev,
       "alice", "", true, "access to db user \"alice\" on database \"rds-example\" allowed by role \"r\""},
      {"no db names allows no named database", {role("r", "{allow: {db_labels: {'*': '*'}, db_users: [alice]}}")}, kDev,
       "alice", "main", false, "(allowed db names: none)"},
      // Labels.
      {"single label matches", {role("r", "{allow: {db_labels: {env: dev}, db_users: ['*']}}")}, kDev, "u", "", true, ""},
      {"single label mismatch", {role("r", "{allow: {db_labels: {env: dev}, db_users: ['*']}}")}, kProd, "u", "", false,
       "access to database \"rds-example\" denied: the db_labels of roles [r] do not match its labels (env=prod,team=db)"},
      {"label key missing on the database", {role("r", "{allow: {db_labels: {owner: me}, db_users: ['*']}}")}, kDev, "u",
       "", false, "do not match"},
      {"all keys match", {role("r", "{allow: {db_labels: {env: dev, team: db}, db_users: ['*']}}")}, kDev, "u", "", true,
       ""},
      {"one of several keys mismatches", {role("r", "{allow: {db_labels: {env: dev, team: web}, db_users: ['*']}}")}, kDev,
       "u", "", false, ""},
      {"list of values matches one", {role("r", "{allow: {db_labels: {env: [staging, dev]}, db_users: ['*']}}")}, kDev, "u",
       "", true, ""},
      {"list of values matches none", {role("r", "{allow: {db_labels: {env: [staging, dev]}, db_users: ['*']}}")}, kProd,
       "u", "", false, ""},
      {"globbed label value", {role("r", "{allow: {db_labels: {region: 'us-*'}, db_users: ['*']}}")}, kDev, "u", "", true,
       ""},
      {"regex label value", {role("r", "{allow: {db_labels: {region: '^us-(east|west)-[0-9]$'}, db_users: ['*']}}")}, kDev,
       "u", "", true, ""},
      {"label value from a trait", {role("r", "{allow: {db_labels: {team: '{{external.team}}'}, db_users: ['*']}}")},
       {{"team", "payments"}}, "u", "", true, ""},
      {"label value from a missing trait", {role("r", "{allow: {db_labels: {team: '{{external.nope}}'}, db_users: ['*']}}")},
       {{"team", "payments"}}, "u", "", false, ""},
      {"'*': '*' matches a database without labels", {role("r", kAll)}, {}, "u", "", true, ""},
      {"'*' key with another value matches nothing", {role("r", "{allow: {db_labels: {'*': dev}, db_users: ['*']}}")}, kDev,
       "u", "", false, ""},
      {"empty matcher matches nothing", {role("r", "{allow: {db_users: ['*'], db_names: ['*']}}")}, kDev, "u", "db", false,
       "do not match"},
      {"no roles", {}, kDev, "alice", "main", false, "access to database \"rds-example\" denied: the user has no roles"},
      // Deny.
      {"deny user wins over allow", {role("all", kAll), role("no-admin", "{deny: {db_labels: {'*': '*'}, db_users: [admin]}}")},
       kDev, "admin", "main", false, "access to db user \"admin\" on database \"rds-example\" denied by role \"no-admin\""},
      {"deny of another user does not apply",
       {role("all", kAll), role("no-admin", "{deny: {db_labels: {'*': '*'}, db_users: [admin]}}")}, kDev, "alice", "main",
       true, "allowed by role \"all\""},
      {"deny by glob", {role("all", kAll), role("no-admin", "{deny: {db_labels: {'*': '*'}, db_users: ['admin*']}}")}, kDev,
       "administrator", "", false, "denied by role \"no-admin\""},
      {"deny by trait", {role("all", kAll), role("d", "{deny: {db_labels: {'*': '*'}, db_users: ['{{internal.db_users}}']}}")},
       kDev, "bob", "", false, "denied by role \"d\""},
      {"deny db name", {role("all", kAll), role("no-payroll", "{deny: {db_labels: {'*': '*'}, db_names: [payroll]}}")}, kDev,
       "alice", "payroll", false,
       "access to database name \"payroll\" on database \"rds-example\" denied by role \"no-payroll\""},
      {"deny db name ignored without a db name",
       {role("all", kAll), role("no-payroll", "{deny: {db_labels: {'*': '*'}, db_names: [payroll]}}")}, kDev, "alice", "",
       true, ""},
      {"deny by labels only denies the database", {role("all", kAll), role("no-prod", "{deny: {db_labels: {env: prod}}}")},
       kProd, "alice", "main", false,
       "access to database \"rds-example\" denied by role \"no-prod\" (its deny db_labels match the database)"},
      {"deny by labels only leaves other databases",
       {role("all", kAll), role("no-prod", "{deny: {db_labels: {env: prod}}}")}, kDev, "alice", "main", true, ""},
      {"deny needs matching labels", {role("all", kAll), role("no-admin", "{deny: {db_users: [admin]}}")}, kDev, "admin", "",
       true, ""},
      {"deny on a missing trait is not a deny-all",
       {role("all", kAll), role("d", "{deny: {db_labels: {'*': '*'}, db_users: ['{{external.blocked}}']}}")}, kDev, "alice",
       "", true, ""},
      // Several roles.
      {"second role allows", {role("prod-only", "{allow: {db_labels: {env: prod}, db_users: ['*']}}"), role("dev", kAll)},
       kDev, "u", "x", true, "allowed by role \"dev\""},
      {"user and name must come from the same role",
       {role("a", "{allow: {db_labels: {'*': '*'}, db_users: [alice], db_names: [main]}}"),
        role("b", "{allow: {db_labels: {'*': '*'}, db_users: [bob], db_names: [other]}}")},
       kDev, "alice", "other", false, "denied: not allowed by roles [a] (allowed db names: main)"},
      {"allowed users listed from every matching role",
       {role("a", "{allow: {db_labels: {'*': '*'}, db_users: [alice]}}"),
        role("b", "{allow: {db_labels: {env: dev}, db_users: [bob, alice]}}"),
        role("c", "{allow: {db_labels: {env: prod}, db_users: [carol]}}")},
       kDev, "dave", "", false, "not allowed by roles [a, b] (allowed db users: alice, bob)"},
  };
}

void PrintTo(const DbCase& c, std::ostream* os) { *os << c.name; }

class DatabaseAccessTable : public ::testing::TestWithParam<DbCase> {};

TEST_P(DatabaseAccessTable, Decides) {
  const DbCase& c = GetParam();
  DatabaseAccessRequest request{c.labels, c.db_user, c.db_name, "rds-example"};
  AccessDecision d = check_database_access(c.roles, kTraits, request);
  EXPECT_EQ(d.allowed, c.allowed) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr(c.reason));
  EXPECT_FALSE(d.reason.empty());
}

std::string case_name(const ::testing::TestParamInfo<DbCase>& info) {
  std::string name;
  for (char ch : std::string(info.param.name)) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return std::to_string(info.index) + "_" + name;
}

INSTANTIATE_TEST_SUITE_P(Cases, DatabaseAccessTable, ::testing::ValuesIn(database_cases()), case_name);

TEST(CheckDatabaseAccess, TableIsLarge) { EXPECT_GE(database_cases().size(), 35u); }

TEST(CheckDatabaseAccess, ReasonWithoutServiceName) {
  DatabaseAccessRequest request{kDev, "admin", "", ""};
  EXPECT_EQ(check_database_access({}, kTraits, request).reason, "access to the database denied: the user has no roles");
  EXPECT_EQ(check_database_access({builtin("access")}, kTraits, request).reason,
            "access to db user \"admin\" denied: not allowed by roles [access] (allowed db users: alice, bob)");
}

TEST(ExpandTraits, Expansion) {
  EXPECT_THAT(expand_traits({"{{internal.db_users}}", "literal"}, kTraits), ElementsAre("alice", "bob", "literal"));
  EXPECT_THAT(expand_traits({"{{external.team}}"}, kTraits), ElementsAre("payments"));
  EXPECT_THAT(expand_traits({"{{  internal.db_names  }}"}, kTraits), ElementsAre("main", "analytics"));
  EXPECT_THAT(expand_traits({"pre-{{internal.db_names}}-post"}, kTraits), ElementsAre("pre-main-post", "pre-analytics-post"));
  EXPECT_THAT(expand_traits({"{{external[\"team\"]}}", "{{internal['team']}}"}, kTraits), ElementsAre("payments"));
  EXPECT_THAT(expand_traits({"alice", "{{internal.db_users}}"}, kTraits), ElementsAre("alice", "bob"));  // no duplicates
}

TEST(ExpandTraits, MissingAndMalformedExpandToNothing) {
  const std::vector<std::string> dropped = {
      "{{internal.missing}}", "{{internal.}}",     "{{internal}}",      "{{other.db_users}}",
      "{{internal.db_users", "internal.x}}",       "{{internal.a.b}}",  "{{email.local(external.email)}}",
      "{{internal.db_users}}{{internal.db_names}}", "{{external[\"team]}}", "{{}}",
  };
  for (const auto& v : dropped) EXPECT_THAT(expand_traits({v}, kTraits), IsEmpty()) << v;
  EXPECT_THAT(expand_traits({"{{internal.empty}}"}, {{"empty", {""}}}), IsEmpty());
  EXPECT_THAT(expand_traits({}, kTraits), IsEmpty());
}

TEST(MatchValue, Patterns) {
  struct Case {
    const char* pattern;
    const char* value;
    bool match;
  } cases[] = {
      {"*", "", true},          {"*", "anything", true},    {"alice", "alice", true},   {"alice", "alice2", false},
      {"a*", "a", true},        {"a*c", "abbbc", true},     {"a*c", "abbbd", false},    {"*-ro", "app-ro", true},
      {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxc", false}, {"a?c", "abc", false},      {"a.c*", "abc", false},
      {"^a.c$", "abc", true},   {"^a.c$", "abcd", false},   {"^(a|b)+$", "abab", true}, {"^[$", "[", false},
      {"^", "^", true},  // too short to be a regex: literal
      {"[a-z]", "b", false},  // not anchored: literal
  };
  for (const auto& c : cases) EXPECT_EQ(match_value(c.pattern, c.value), c.match) << c.pattern << " vs " << c.value;
}

TEST(CanSeeDatabase, LabelsDecide) {
  Role dev = role("dev", "{allow: {db_labels: {env: dev}}}");
  Role all = role("all", kAll);
  Role no_prod = role("no-prod", "{deny: {db_labels: {env: prod}}}");
  Role no_admin = role("no-admin", "{deny: {db_labels: {'*': '*'}, db_users: [admin]}}");
  EXPECT_TRUE(can_see_database({dev}, kTraits, kDev));
  EXPECT_FALSE(can_see_database({dev}, kTraits, kProd));
  EXPECT_TRUE(can_see_database({dev, all}, kTraits, kProd));
  EXPECT_FALSE(can_see_database({all, no_prod}, kTraits, kProd));
  EXPECT_TRUE(can_see_database({all, no_prod}, kTraits, kDev));
  EXPECT_TRUE(can_see_database({all, no_admin}, kTraits, kProd));  // denies a user, not the database
  EXPECT_FALSE(can_see_database({}, kTraits, kDev));
  EXPECT_FALSE(can_see_database({role("empty", "{allow: {db_users: ['*']}}")}, kTraits, kDev));
}

TEST(CheckResourceAccess, Rules) {
  Role reader = role("reader", "{allow: {rules: [{resources: [user, role], verbs: [list, read]}]}}");
  Role admin = role("admin", "{allow: {rules: [{resources: ['*'], verbs: ['*']}]}}");
  Role no_delete = role("no-delete", "{deny: {rules: [{resources: [user], verbs: [delete]}]}}");
  Role deny_all = role("deny-all", "{deny: {rules: [{resources: ['*'], verbs: ['*']}]}}");

  auto d = check_resource_access({reader}, "user", "list");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "access to \"list\" on \"user\" allowed by role \"reader\"");
  EXPECT_FALSE(check_resource_access({reader}, "user", "delete").allowed);
  EXPECT_FALSE(check_resource_access({reader}, "token", "read").allowed);
  EXPECT_TRUE(check_resource_access({admin}, "token", "create").allowed);
  EXPECT_TRUE(check_resource_access({admin, no_delete}, "user", "update").allowed);
  EXPECT_TRUE(check_resource_access({admin, no_delete}, "role", "delete").allowed);

  d = check_resource_access({admin, no_delete}, "user", "delete");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "access to \"delete\" on \"user\" denied by role \"no-delete\"");
  EXPECT_FALSE(check_resource_access({admin, deny_all}, "event", "list").allowed);

  d = check_resource_access({reader}, "token", "create");
  EXPECT_EQ(d.reason,
            "access to \"create\" on \"token\" denied: no rule in roles [reader] allows it; ask an administrator for a "
            "role that does");
  EXPECT_FALSE(check_resource_access({}, "user", "list").allowed);
}

TEST(MaxSessionTtl, SmallestWins) {
  EXPECT_EQ(max_session_ttl({}), 12h);
  EXPECT_EQ(max_session_ttl({role("a", "{options: {max_session_ttl: 30h}}")}), 30h);
  EXPECT_EQ(max_session_ttl({role("a", "{options: {max_session_ttl: 30h}}"), role("b", "{options: {max_session_ttl: 1h30m}}"),
                             builtin("access")}),
            90min);
}

}  // namespace
}  // namespace tp
