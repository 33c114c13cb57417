// YAML <-> JSON for resources and config files: every loader works on nlohmann::json, and YAML is
// only the text format users write. Scalars follow the YAML 1.2 core schema for ints, bools and null
// (plain `42`, `true`, `~` become JSON values); everything else, including floats and any quoted
// scalar, stays a string, so `version: "1.0"`, `env: no` and `port: '5432'` keep their spelling.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace tp {

// One document (an empty text is JSON null). Errors say "line L:C: what is wrong"; a second
// document, a duplicate key or an unsupported tag is an error.
Result<nlohmann::json> yaml_to_json(const std::string& text);

// Every document of a "---"-separated stream, in order; empty documents are skipped.
Result<std::vector<nlohmann::json>> yaml_documents_to_json(const std::string& text);

// Block-style YAML, two-space indent, keys in the object's iteration order (nlohmann::json
// iterates keys sorted; pass an ordered_json to keep insertion order). Strings that would read
// back as another type ("true", "12", "null", "1.5", "yes") are quoted, so
// yaml_to_json(json_to_yaml(j)) == j for any j without floats.
std::string json_to_yaml(const nlohmann::json& value);
std::string json_to_yaml(const nlohmann::ordered_json& value);

}  // namespace tp
