// Checks that a text is one JSON value without building it, and shows an object's top-level
// members as they are in the text. The Auth Service reads every audit event an agent uploads this
// way (auth/auth_server.cc): it must refuse anything that is not JSON, but it stores the text as
// it came, so building a document per event (nlohmann's parser copies every string, a character
// at a time) was wasted work.
#pragma once

#include <functional>
#include <string_view>

namespace tp {

struct JsonMember {
  enum Kind { kString, kNumber, kObject, kArray, kTrue, kFalse, kNull };
  std::string_view key;  // between the quotes, escapes as written
  bool key_escaped;      // the key holds a backslash escape: `key` is not its decoded text
  Kind kind;
  std::string_view value;  // the value's text; a string's without its quotes, escapes as written
  bool value_escaped;      // a string value holding a backslash escape
};

// Nesting deeper than this is refused (a stack guard; events nest three or four levels).
inline constexpr int kMaxJsonDepth = 256;

// True when `text` is exactly one JSON value (RFC 8259: UTF-8, whitespace around it allowed, no
// comments), the same texts nlohmann::json::accept takes up to kMaxJsonDepth levels. When the value
// is an object, `on_member` (if set) is called for each top-level member, in order, as it is read;
// a text found invalid later may already have reported some.
bool scan_json(std::string_view text, const std::function<void(const JsonMember&)>& on_member = {});

}  // namespace tp
