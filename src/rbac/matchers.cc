// Trait templates and value patterns, in the reference's syntax:
//   {{internal.db_users}}, {{external.groups}}, {{external["http://x/claims/group"]}}
//   '*', globs ("db-*"), and "^regex$" (ECMAScript, whole value).
#include "rbac/internal/matchers.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <unordered_map>

#include "common/strings.h"
#include "rbac/access.h"

namespace tp {
namespace {

// The trait a template names, or nullopt when the text inside {{ }} is not
// `internal.NAME`, `external.NAME` or `internal["NAME"]` / `external["NAME"]`.
std::optional<std::string> parse_trait_reference(const std::string& expression) {
  std::string e = trim(expression);
  std::string rest;
  for (const char* ns : {"internal", "external"}) {
    if (starts_with(e, ns)) {
      rest = e.substr(std::string(ns).size());
      break;
    }
  }
  if (rest.size() < 2) return std::nullopt;
  if (rest[0] == '.') {
    std::string name = rest.substr(1);
    bool ok = std::all_of(name.begin(), name.end(),
                          [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
    if (!ok) return std::nullopt;
    return name;
  }
  // ["NAME"] or ['NAME'], for trait names that are URLs (SAML attribute names).
  if (rest.size() >= 5 && rest[0] == '[' && rest.back() == ']') {
    char quote = rest[1];
    if ((quote != '"' && quote != '\'') || rest[rest.size() - 2] != quote) return std::nullopt;
    std::string name = rest.substr(2, rest.size() - 4);
    if (name.empty() || name.find(quote) != std::string::npos) return std::nullopt;
    return name;
  }
  return std::nullopt;
}

// Appends the expansion of one value; a malformed template or a missing trait adds nothing, so the
// value can never match.
void expand_one(const std::string& value, const Traits& traits, std::vector<std::string>& out) {
  size_t open = value.find("{{");
  if (open == std::string::npos) {
    if (value.find("}}") == std::string::npos) out.push_back(value);
    return;
  }
  size_t close = value.find("}}", open + 2);
  if (close == std::string::npos) return;
  std::string prefix = value.substr(0, open);
  std::string suffix = value.substr(close + 2);
  // One template per value, as in the reference.
  if (prefix.find("}}") != std::string::npos || suffix.find("{{") != std::string::npos ||
      suffix.find("}}") != std::string::npos)
    return;
  auto name = parse_trait_reference(value.substr(open + 2, close - open - 2));
  if (!name) return;
  auto it = traits.find(*name);
  if (it == traits.end()) return;
  for (const auto& trait_value : it->second) {
    if (trait_value.empty()) continue;  // an empty trait value must not grant an empty name
    out.push_back(prefix + trait_value + suffix);
  }
}

// '*' is any run of characters (including none); everything else is literal.
bool match_glob(const std::string& pattern, const std::string& value) {
  size_t p = 0, v = 0;
  size_t star = std::string::npos, star_v = 0;
  while (v < value.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_v = v;
    } else if (p < pattern.size() && pattern[p] == value[v]) {
      ++p;
      ++v;
    } else if (star != std::string::npos) {
      p = star + 1;
      v = ++star_v;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Compiled patterns, shared by every session; a pattern that does not compile is cached as null
// and matches nothing. Bounded so that user-supplied patterns cannot grow it without limit.
std::shared_ptr<const std::regex> compiled_regex(const std::string& pattern) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const std::regex>> cache;
  constexpr size_t kMaxCached = 1024;
  std::lock_guard lock(mu);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const std::regex> re;
  try {
    re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
  }
  if (cache.size() >= kMaxCached) cache.clear();
  cache.emplace(pattern, re);
  return re;
}

bool match_regex(const std::string& pattern, const std::string& value) {
  auto re = compiled_regex(pattern);
  if (!re) return false;
  try {
    return std::regex_match(value, *re);
  } catch (const std::regex_error&) {  // error_complexity / error_stack on pathological input
    return false;
  }
}

}  // namespace

std::vector<std::string> expand_traits(const std::vector<std::string>& values, const Traits& traits) {
  std::vector<std::string> out;
  for (const auto& value : values) expand_one(value, traits, out);
  // Duplicates only lengthen error messages.
  std::vector<std::string> unique;
  for (auto& v : out)
    if (std::find(unique.begin(), unique.end(), v) == unique.end()) unique.push_back(std::move(v));
  return unique;
}

bool match_value(const std::string& pattern, const std::string& value) {
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern.front() == '^' && pattern.back() == '$') return match_regex(pattern, value);
  if (pattern.find('*') != std::string::npos) return match_glob(pattern, value);
  return pattern == value;
}

namespace rbac_internal {

bool match_any(const std::vector<std::string>& patterns, const std::string& value) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return match_value(p, value); });
}

bool match_labels(const LabelMatchers& matchers, const Traits& traits, const Labels& labels) {
  if (matchers.empty()) return false;
  for (const auto& [key, raw_values] : matchers) {
    std::vector<std::string> values = expand_traits(raw_values, traits);
    if (key == "*") {
      // Only '*': '*' is meaningful for the wildcard key; anything else matches nothing.
      if (std::find(values.begin(), values.end(), "*") == values.end()) return false;
      continue;
    }
    auto it = labels.find(key);
    if (it == labels.end() || !match_any(values, it->second)) return false;
  }
  return true;
}

}  // namespace rbac_internal
}  // namespace tp
