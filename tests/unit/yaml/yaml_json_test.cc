#include "common/yaml_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tp {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json parse(const std::string& text) {
  auto r = yaml_to_json(text);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : json();
}

std::string parse_error(const std::string& text) {
  auto r = yaml_to_json(text);
  EXPECT_FALSE(r.ok()) << "parsed: " << r->dump();
  return r.ok() ? "" : r.error().message;
}

TEST(YamlToJson, PlainScalarsResolveByCoreSchema) {
  json j = parse(
      "int: 42\nneg: -7\nplus: +3\nhex: 0x1F\noct: 0o17\n"
      "t: true\nT: True\nf: FALSE\n"
      "tilde: ~\nnull_word: null\nempty:\n"
      "str: hello world\nfloat: 1.5\nyes_word: yes\nno_word: no\nversion: v7\nglob: 'db-*'\n");
  EXPECT_EQ(j["int"], 42);
  EXPECT_EQ(j["neg"], -7);
  EXPECT_EQ(j["plus"], 3);
  EXPECT_EQ(j["hex"], 31);
  EXPECT_EQ(j["oct"], 15);
  EXPECT_EQ(j["t"], true);
  EXPECT_EQ(j["T"], true);
  EXPECT_EQ(j["f"], false);
  EXPECT_TRUE(j["tilde"].is_null());
  EXPECT_TRUE(j["null_word"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["str"], "hello world");
  EXPECT_EQ(j["float"], "1.5");     // floats stay text by design
  EXPECT_EQ(j["yes_word"], "yes");  // YAML 1.2: not a boolean
  EXPECT_EQ(j["no_word"], "no");
  EXPECT_EQ(j["version"], "v7");
  EXPECT_EQ(j["glob"], "db-*");
}

TEST(YamlToJson, QuotedScalarsStayStrings) {
  json j = parse("a: '42'\nb: \"true\"\nc: 'null'\nd: \"\"\ne: '~'\n");
  EXPECT_EQ(j["a"], "42");
  EXPECT_EQ(j["b"], "true");
  EXPECT_EQ(j["c"], "null");
  EXPECT_EQ(j["d"], "");
  EXPECT_EQ(j["e"], "~");
}

TEST(YamlToJson, LargeIntegers) {
  json j = parse(
      "max: 9223372036854775807\nmin: -9223372036854775808\nbig: 18446744073709551615\nhuge: 99999999999999999999\n");
  EXPECT_EQ(j["max"].get<int64_t>(), INT64_MAX);
  EXPECT_EQ(j["min"].get<int64_t>(), INT64_MIN);
  EXPECT_EQ(j["big"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(j["huge"], "99999999999999999999");  // beyond 64 bits: kept as text
}

TEST(YamlToJson, CoreTags) {
  json j = parse("s: !!str 5\ni: !!int '12'\nb: !!bool 'true'\nn: !!null ''\nf: !!float 2.5\n");
  EXPECT_EQ(j["s"], "5");
  EXPECT_EQ(j["i"], 12);
  EXPECT_EQ(j["b"], true);
  EXPECT_TRUE(j["n"].is_null());
  EXPECT_DOUBLE_EQ(j["f"].get<double>(), 2.5);
}

TEST(YamlToJson, NestedStructuresKeepOrderOfLists) {
  json j = parse(
      "kind: role\n"
      "spec:\n"
      "  allow:\n"
      "    db_labels:\n"
      "      '*': '*'\n"
      "    db_users: [alice, '{{internal.db_users}}']\n"
      "    rules:\n"
      "      - resources: [user]\n"
      "        verbs: [list, read]\n");
  EXPECT_EQ(j["spec"]["allow"]["db_labels"]["*"], "*");
  EXPECT_EQ(j["spec"]["allow"]["db_users"], json({"alice", "{{internal.db_users}}"}));
  EXPECT_EQ(j["spec"]["allow"]["rules"][0]["verbs"], json({"list", "read"}));
}

TEST(YamlToJson, AliasesExpand) {
  json j = parse("base: &b [x, y]\ncopy: *b\n");
  EXPECT_EQ(j["copy"], json({"x", "y"}));
}

TEST(YamlToJson, EmptyTextIsNull) {
  EXPECT_TRUE(parse("").is_null());
  EXPECT_TRUE(parse("# only a comment\n").is_null());
}

TEST(YamlToJson, SyntaxErrorNamesLineAndColumn) {
  std::string e = parse_error("a: 1\nb: [1, 2\n");
  EXPECT_THAT(e, HasSubstr("line 3:1"));
  EXPECT_THAT(e, HasSubstr("end of sequence flow not found"));
  EXPECT_THAT(parse_error("a: 1\n  b: 2\n"), HasSubstr("line 2:4"));
}

TEST(YamlToJson, DuplicateKeyIsAnError) {
  EXPECT_EQ(parse_error("a: 1\nb: 2\na: 3\n"), "invalid YAML at line 3:1: duplicate key \"a\"");
}

TEST(YamlToJson, BadTaggedValuesAreErrors) {
  EXPECT_THAT(parse_error("a: !!int abc\n"), HasSubstr("line 1:4: \"abc\" is not a 64-bit integer"));
  EXPECT_THAT(parse_error("a: !!bool yes\n"), HasSubstr("not a boolean"));
  EXPECT_THAT(parse_error("a: !custom x\n"), HasSubstr("unsupported tag \"!custom\""));
  EXPECT_THAT(parse_error("a: !!float .inf\n"), HasSubstr("not a finite float"));
}

TEST(YamlToJson, ComplexKeysAreErrors) {
  EXPECT_THAT(parse_error("? [a, b]\n: 1\n"), HasSubstr("a mapping key must be a plain string"));
}

TEST(YamlToJson, MoreThanOneDocumentIsAnError) {
  EXPECT_THAT(parse_error("a: 1\n---\nb: 2\n"), HasSubstr("found 2 documents; expected one"));
}

TEST(YamlToJson, AliasBombIsRejected) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev + ", " + prev + ", " +
            prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + "]\n";
  }
  EXPECT_THAT(parse_error(text), HasSubstr("too many nodes"));
}

TEST(YamlDocumentsToJson, SplitsAndSkipsEmptyDocuments) {
  auto r = yaml_documents_to_json("---\nkind: role\n---\n---\nkind: user\n---\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0]["kind"], "role");
  EXPECT_EQ((*r)[1]["kind"], "user");
  auto none = yaml_documents_to_json("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(YamlDocumentsToJson, ErrorInLaterDocumentNamesItsLine) {
  auto r = yaml_documents_to_json("kind: role\n---\nkind: user\nkind: again\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "invalid YAML at line 4:1: duplicate key \"kind\"");
}

TEST(JsonToYaml, BlockStyle) {
  json j = {{"kind", "role"}, {"spec", {{"allow", {{"db_users", {"alice", "bob"}}}}}}};
  EXPECT_EQ(json_to_yaml(j),
            "kind: role\n"
            "spec:\n"
            "  allow:\n"
            "    db_users:\n"
            "      - alice\n"
            "      - bob\n");
}

TEST(JsonToYaml, QuotesStringsThatWouldChangeType) {
  json j = {{"a", "true"},  {"b", "12"}, {"c", "null"}, {"d", "1.5"},   {"e", "yes"}, {"f", ""},
            {"g", "plain"}, {"h", 12},   {"i", false},  {"j", nullptr}, {"k", "*"}};
  std::string y = json_to_yaml(j);
  EXPECT_THAT(y, HasSubstr("a: 'true'\n"));
  EXPECT_THAT(y, HasSubstr("b: '12'\n"));
  EXPECT_THAT(y, HasSubstr("d: '1.5'\n"));
  EXPECT_THAT(y, HasSubstr("e: 'yes'\n"));
  EXPECT_THAT(y, HasSubstr("g: plain\n"));
  EXPECT_THAT(y, HasSubstr("h: 12\n"));
  EXPECT_THAT(y, HasSubstr("i: false\n"));
  EXPECT_THAT(y, HasSubstr("j: null\n"));
}

TEST(JsonToYaml, EmptyContainersUseFlowStyle) {
  json j = {{"allow", json::object()}, {"list", json::array()}};
  EXPECT_EQ(json_to_yaml(j), "allow: {}\nlist: []\n");
}

TEST(JsonToYaml, OrderedJsonKeepsInsertionOrder) {
  nlohmann::ordered_json j;
  j["version"] = "v7";
  j["kind"] = "role";
  EXPECT_EQ(json_to_yaml(j), "version: v7\nkind: role\n");
}

TEST(JsonToYaml, RoundTrips) {
  json j = {{"kind", "role"},
            {"n", -3},
            {"big", UINT64_MAX},
            {"flags", {true, false, nullptr}},
            {"texts",
             {"true", "0x10", "~", "", "multi\nline", " lead", "trail ", "a: b", "# not a comment", "'q'", "\"dq\"",
              "{{internal.db_users}}", "^db-[0-9]+$", "*", "- dash", "ünïcode"}},
            {"*", "*"},
            {"nested", {{"empty", json::object()}, {"list", json::array({json::object({{"x", 1}})})}}}};
  std::string y = json_to_yaml(j);
  auto back = yaml_to_json(y);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << y;
  EXPECT_EQ(*back, j) << y;
}

}  // namespace
}  // namespace tp
