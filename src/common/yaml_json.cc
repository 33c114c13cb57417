#include "common/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

namespace tp {
namespace {

using nlohmann::json;

// yaml-cpp shares the node of an anchor with every alias, so a small text can expand into a huge
// tree ("billion laughs"); conversion stops after this many nodes.
constexpr size_t kMaxNodes = 1 << 20;

// YAML 1.2 core schema tags (YAML 1.2 spec, section 10.3.2 "Tag Resolution").
constexpr const char* kTagStr = "tag:yaml.org,2002:str";
constexpr const char* kTagInt = "tag:yaml.org,2002:int";
constexpr const char* kTagBool = "tag:yaml.org,2002:bool";
constexpr const char* kTagNull = "tag:yaml.org,2002:null";
constexpr const char* kTagFloat = "tag:yaml.org,2002:float";
constexpr const char* kTagMap = "tag:yaml.org,2002:map";
constexpr const char* kTagSeq = "tag:yaml.org,2002:seq";

Error error_at(const YAML::Mark& mark, const std::string& what) {
  if (mark.line < 0) return invalid_argument("invalid YAML: " + what);
  return invalid_argument("invalid YAML at line " + std::to_string(mark.line + 1) + ":" +
                          std::to_string(mark.column + 1) + ": " + what);
}

bool is_null_word(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<bool> parse_bool_word(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// Core schema ints: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. Values beyond int64 use uint64; beyond
// that they are not ints (the caller keeps the text).
std::optional<json> parse_int_word(const std::string& s) {
  int base = 10;
  size_t start = 0;
  bool negative = false;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    base = s[1] == 'o' ? 8 : 16;
    start = 2;
  } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    start = 1;
  }
  if (start >= s.size()) return std::nullopt;
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    bool ok =
        base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0 : (c >= '0' && c <= (base == 8 ? '7' : '9'));
    if (!ok) return std::nullopt;
  }
  const char* first = s.data() + start;
  const char* last = s.data() + s.size();
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(first, last, magnitude, base);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  if (!negative) {
    if (magnitude <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return json(static_cast<int64_t>(magnitude));
    return json(magnitude);
  }
  constexpr uint64_t kMinMagnitude = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1;
  if (magnitude > kMinMagnitude) return std::nullopt;
  if (magnitude == kMinMagnitude) return json(std::numeric_limits<int64_t>::min());
  return json(-static_cast<int64_t>(magnitude));
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and the .inf/.nan words: text another YAML
// reader would take as a float.
bool looks_like_float(const std::string& s) {
  static const std::set<std::string> kWords = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                                               "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
  if (kWords.count(s)) return true;
  size_t i = 0;
  auto digits = [&] {
    size_t from = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - from;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t mantissa = digits();
  if (i < s.size() && s[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// Words YAML 1.1 readers (PyYAML, Go's yaml.v2) take as booleans.
bool is_yaml11_bool(const std::string& s) {
  static const std::set<std::string> kWords = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no",
                                               "No", "NO", "on",  "On",  "ON",  "off", "Off", "OFF"};
  return kWords.count(s) > 0;
}

class Converter {
 public:
  Result<json> convert(const YAML::Node& node) {
    if (++nodes_ > kMaxNodes) return error_at(node.Mark(), "document too large (too many nodes after alias expansion)");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        if (!container_tag_ok(node.Tag(), kTagSeq))
          return error_at(node.Mark(), "unsupported tag \"" + node.Tag() + "\"");
        json out = json::array();
        for (const auto& item : node) {
          TP_TRY(json v, convert(item));
          out.push_back(std::move(v));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        if (!container_tag_ok(node.Tag(), kTagMap))
          return error_at(node.Mark(), "unsupported tag \"" + node.Tag() + "\"");
        json out = json::object();
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node key = it->first;  // copies: the iterator returns proxies
          const YAML::Node value = it->second;
          if (!key.IsScalar()) return error_at(key.Mark(), "a mapping key must be a plain string");
          const std::string& name = key.Scalar();
          if (out.contains(name)) return error_at(key.Mark(), "duplicate key \"" + name + "\"");
          TP_TRY(json v, convert(value));
          out[name] = std::move(v);
        }
        return out;
      }
    }
    return error_at(node.Mark(), "unknown node type");
  }

 private:
  static bool container_tag_ok(const std::string& tag, const char* core) {
    return tag.empty() || tag == "?" || tag == "!" || tag == core;
  }

  static Result<json> scalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == "?" || tag.empty()) {  // plain: resolve by the core schema
      if (is_null_word(text)) return json(nullptr);
      if (auto b = parse_bool_word(text)) return json(*b);
      if (auto i = parse_int_word(text)) return *i;
      return json(text);
    }
    if (tag == "!" || tag == kTagStr) return json(text);  // quoted, or !!str
    if (tag == kTagNull) {
      if (!is_null_word(text)) return error_at(node.Mark(), "\"" + text + "\" is not a null");
      return json(nullptr);
    }
    if (tag == kTagBool) {
      auto b = parse_bool_word(text);
      if (!b) return error_at(node.Mark(), "\"" + text + "\" is not a boolean (use true or false)");
      return json(*b);
    }
    if (tag == kTagInt) {
      auto i = parse_int_word(text);
      if (!i) return error_at(node.Mark(), "\"" + text + "\" is not a 64-bit integer");
      return *i;
    }
    if (tag == kTagFloat) {
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (!looks_like_float(text) || text.find_first_of("iInN") != std::string::npos ||
          end != text.c_str() + text.size())
        return error_at(node.Mark(), "\"" + text + "\" is not a finite float");
      return json(d);
    }
    return error_at(node.Mark(),
                    "unsupported tag \"" + tag + "\" (only the core !!str, !!int, !!bool, !!null, !!float)");
  }

  size_t nodes_ = 0;
};

Result<std::vector<YAML::Node>> load_all(const std::string& text) {
  try {
    return YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return error_at(e.mark, e.msg);
  } catch (const std::exception& e) {
    return invalid_argument(std::string("invalid YAML: ") + e.what());
  }
}

// A string that a YAML reader would take for another type gets quotes.
bool needs_quotes(const std::string& s) {
  return is_null_word(s) || parse_bool_word(s) || parse_int_word(s) || looks_like_float(s) || is_yaml11_bool(s);
}

void emit_string(YAML::Emitter& out, const std::string& s) {
  if (needs_quotes(s)) out << YAML::SingleQuoted;
  out << s;
}

template <class J>
void emit(YAML::Emitter& out, const J& value) {
  switch (value.type()) {
    case J::value_t::object:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (auto it = value.begin(); it != value.end(); ++it) {
        out << YAML::Key;
        emit_string(out, it.key());
        out << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      return;
    case J::value_t::array:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      return;
    case J::value_t::string:
      emit_string(out, value.template get_ref<const std::string&>());
      return;
    case J::value_t::boolean:
      out << value.template get<bool>();
      return;
    case J::value_t::number_integer:
    case J::value_t::number_unsigned:
    case J::value_t::number_float:
      out << value.dump();  // JSON's number text is valid plain YAML
      return;
    case J::value_t::null:
    case J::value_t::binary:
    case J::value_t::discarded:
      out << YAML::Null;
      return;
  }
}

template <class J>
std::string to_yaml(const J& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetMapFormat(YAML::Block);
  out.SetSeqFormat(YAML::Block);
  out.SetNullFormat(YAML::LowerNull);
  out.SetBoolFormat(YAML::TrueFalseBool);
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace

Result<nlohmann::json> yaml_to_json(const std::string& text) {
  TP_TRY(auto docs, load_all(text));
  if (docs.empty()) return json(nullptr);
  if (docs.size() > 1)
    return error_at(docs[1].Mark(), "found " + std::to_string(docs.size()) + " documents; expected one");
  Converter converter;
  return converter.convert(docs[0]);
}

Result<std::vector<nlohmann::json>> yaml_documents_to_json(const std::string& text) {
  TP_TRY(auto docs, load_all(text));
  std::vector<json> out;
  for (const auto& doc : docs) {
    if (doc.IsNull()) continue;
    Converter converter;
    TP_TRY(json v, converter.convert(doc));
    out.push_back(std::move(v));
  }
  return out;
}

std::string json_to_yaml(const nlohmann::json& value) { return to_yaml(value); }
std::string json_to_yaml(const nlohmann::ordered_json& value) { return to_yaml(value); }

}  // namespace tp
