// The access decision: one pure function per question, table-tested.
#pragma once

#include <string>
#include <vector>

#include "crypto/identity.h"
#include "rbac/role.h"

namespace tp {

struct DatabaseAccessRequest {
  Labels db_labels;     // the database's labels (static + imported)
  std::string db_user;
  std::string db_name;  // empty when the protocol has no database at connect time
  std::string service_name;  // the registered database's name; only used in the reason text
};

struct AccessDecision {
  bool allowed = false;
  // Why, in words a user can act on, e.g.
  // "access to db user \"admin\" on database \"rds-example\" denied: not allowed by roles [access]
  // (allowed db users: alice, bob)".
  std::string reason;
};

// Expands "{{internal.db_users}}", "{{external.groups}}" in a value list with the
// user's traits; a template whose trait is missing expands to nothing.
std::vector<std::string> expand_traits(const std::vector<std::string>& values, const Traits& traits);

// Matches one value: literal, '*', glob (a*b), or ^regex$.
bool match_value(const std::string& pattern, const std::string& value);

// Deny wins; no matching allow means no access. Label matching: every key in a
// role's db_labels must match the database's label ('*': '*' matches all).
AccessDecision check_database_access(const std::vector<Role>& roles, const Traits& traits,
                                     const DatabaseAccessRequest& request);

// Whether the labels alone let the user see the database (tsh db ls filtering).
bool can_see_database(const std::vector<Role>& roles, const Traits& traits, const Labels& db_labels);

// Resource rules: may these roles do `verb` on `resource`?
AccessDecision check_resource_access(const std::vector<Role>& roles, const std::string& resource,
                                     const std::string& verb);

// The smallest max_session_ttl among the roles.
std::chrono::seconds max_session_ttl(const std::vector<Role>& roles);

}  // namespace tp
