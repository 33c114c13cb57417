// Matching helpers shared by access.cc and the tests; the public ones are in rbac/access.h.
#pragma once

#include <string>
#include <vector>

#include "crypto/identity.h"
#include "rbac/role.h"

namespace tp::rbac_internal {

// Whether any pattern (see match_value) matches the value.
bool match_any(const std::vector<std::string>& patterns, const std::string& value);

// Every key of the matcher must be a label of the database whose value matches one of the key's
// (trait-expanded) values; the key '*' with the value '*' matches any database. An empty matcher
// matches nothing, so a role without db_labels grants no database.
bool match_labels(const LabelMatchers& matchers, const Traits& traits, const Labels& labels);

}  // namespace tp::rbac_internal
