// A tiny XML reader for AWS Query API responses (STS, RDS, IAM): elements, character data and
// the five predefined entities plus numeric references. Attributes, comments, processing
// instructions and DOCTYPE are skipped; CDATA is kept as text. Not a general XML parser.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tp::aws::xml {

struct Element {
  std::string name;  // local name: a "ns:" prefix is dropped
  std::string text;  // character data directly inside this element, entities decoded
  std::vector<Element> children;

  // First direct child with this name, or nullptr.
  const Element* child(std::string_view child_name) const;
  // Direct children with this name, in document order.
  std::vector<const Element*> children_named(std::string_view child_name) const;
  // Trimmed text of the first direct child with this name; "" when absent.
  std::string child_text(std::string_view child_name) const;
  // First element with this name in a depth-first walk, this element included; nullptr if none.
  const Element* find(std::string_view element_name) const;
};

// Parses a whole document and returns its root element.
Result<Element> parse(std::string_view document);

// Escapes &, <, >, " and ' for element text (used by tests and fixtures).
std::string escape(std::string_view text);

}  // namespace tp::aws::xml
