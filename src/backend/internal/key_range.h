// Prefix scans as a half-open key interval [prefix, upper), compared bytewise
// (SQLite's BINARY collation is memcmp). Unlike LIKE 'prefix%', this treats
// '%' and '_' in keys as ordinary bytes and can use the primary-key index.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tp::backend_internal {

// The smallest string greater than every string that starts with prefix, or
// nullopt when there is none (empty prefix, or prefix made only of 0xFF bytes).
inline std::optional<std::string> prefix_upper_bound(std::string_view prefix) {
  std::string upper(prefix);
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xFF) upper.pop_back();
  if (upper.empty()) return std::nullopt;
  upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
  return upper;
}

}  // namespace tp::backend_internal
