// scan_json against nlohmann::json::accept, the parser it stands in for: hand-picked texts at the
// edges of the grammar, then mutations of an audit event (bounded, fixed seed); and the top-level
// members it reports.
#include "common/json_scan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace tp {
namespace {

bool nlohmann_accepts(std::string_view text) {
  return nlohmann::json::accept(text.begin(), text.end());
}

TEST(JsonScan, AgreesWithNlohmannAtTheEdgesOfTheGrammar) {
  const std::vector<std::string> texts = {
      "{}",
      "[]",
      "\"\"",
      "0",
      "-0",
      "1.5e10",
      "-1.5E-10",
      "1e+2",
      "true",
      "false",
      "null",
      " \t\r\n{} \n",
      R"({"a":1,"b":[1,2,{"c":null}],"d":"x\"y\\z\/\b\f\n\r\t\u00e9\uD83D\uDE00"})",
      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",  // 2, 3 and 4 byte UTF-8
      // invalid:
      "",
      " ",
      "{",
      "}",
      "[1,]",
      "{\"a\":1,}",
      "{\"a\" 1}",
      "{a:1}",
      "{\"a\":}",
      "[1 2]",
      "01",
      "1.",
      ".5",
      "1e",
      "+1",
      "-",
      "--1",
      "1.5e+",
      "tru",
      "nul",
      "True",
      "NaN",
      "Infinity",
      "{} {}",
      "{}x",
      "[\"a\",]",
      "\"abc",
      "\"a\nb\"",
      "\"\\x\"",
      "\"\\u12\"",
      "\"\\u12G4\"",
      "\"\\uD83D\"",
      "\"\\uDE00\"",
      "\"\\uD83D\\u0041\"",
      "\"\\uD83Dx\"",
      "\"\xc3\"",
      "\"\xc0\xaf\"",
      "\"\xe0\x80\xaf\"",
      "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"",
      "\"\xf5\x80\x80\x80\"",
      "\"\x80\"",
      "\"\xff\"",
      "// c\n{}",
      "{/* c */}",
      std::string("\"a\0b\"", 5),
      "[[[[[[[[[[]]]]]]]]]]",
      "[[[[[[[[[[]]]]]]]]]",
  };
  for (const auto& text : texts) EXPECT_EQ(scan_json(text), nlohmann_accepts(text)) << "text: " << text;
  // Where we differ: nlohmann's lexer takes a NUL byte for the end of the input and ignores the rest.
  const std::string after_nul("{}\0{", 4);
  EXPECT_TRUE(nlohmann_accepts(after_nul));
  EXPECT_FALSE(scan_json(after_nul));
}

TEST(JsonScan, AgreesWithNlohmannOnMutatedEvents) {
  const std::string event =
      R"({"event":"db.session.query","uid":"0f3a","time":"2026-11-26T10:00:00.000Z","code":"TDB02I",)"
      R"("db_query":"SELECT caf\u00e9, 'x' FROM t WHERE a = -1.5e3","db_query_parameters":["1",null,true],)"
      R"("user":"al\"ice","success":false,"n":[0,{"k":[]}]})";
  ASSERT_TRUE(scan_json(event));
  std::mt19937 rng(20261126);
  const std::string alphabet = "{}[]\",:\\/-+.eE0123456789 tfnulrsa\x01\x7f\xc3\xa9\xed\xa0\xf0";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = event;
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t at = rng() % (text.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text.insert(text.begin() + static_cast<long>(at), c);
          break;
        case 1:
          if (at < text.size()) text.erase(at, 1);
          break;
        default:
          if (at < text.size()) text[at] = c;
      }
    }
    const bool ours = scan_json(text);
    ASSERT_EQ(ours, nlohmann_accepts(text)) << "text: " << text;
    accepted += ours;
  }
  EXPECT_GT(accepted, 1000) << "the mutations should leave many texts valid, too";
}

TEST(JsonScan, ReportsTopLevelMembersAsWritten) {
  std::vector<JsonMember> members;
  ASSERT_TRUE(scan_json(R"( {"event" : "a\"b", "n":-1.5, "o":{"event":"inner"}, "l":[1], "t":true,)"
                        R"( "f":false, "z":null, "k\u0065y":""} )",
                        [&](const JsonMember& m) { members.push_back(m); }));
  ASSERT_EQ(members.size(), 8u);
  EXPECT_EQ(members[0].key, "event");
  EXPECT_EQ(members[0].kind, JsonMember::kString);
  EXPECT_EQ(members[0].value, "a\\\"b");
  EXPECT_TRUE(members[0].value_escaped);
  EXPECT_FALSE(members[0].key_escaped);
  EXPECT_EQ(members[1].kind, JsonMember::kNumber);
  EXPECT_EQ(members[1].value, "-1.5");
  EXPECT_EQ(members[2].kind, JsonMember::kObject);
  EXPECT_EQ(members[2].value, R"({"event":"inner"})") << "nested members are not reported";
  EXPECT_EQ(members[3].kind, JsonMember::kArray);
  EXPECT_EQ(members[4].kind, JsonMember::kTrue);
  EXPECT_EQ(members[5].kind, JsonMember::kFalse);
  EXPECT_EQ(members[6].kind, JsonMember::kNull);
  EXPECT_EQ(members[7].key, "k\\u0065y");
  EXPECT_TRUE(members[7].key_escaped);
  EXPECT_EQ(members[7].value, "");

  members.clear();
  EXPECT_TRUE(scan_json("[{\"a\":1}]", [&](const JsonMember& m) { members.push_back(m); }));
  EXPECT_TRUE(members.empty()) << "only an object's own members";
}

TEST(JsonScan, RefusesNestingDeeperThanItsLimit) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  const std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_TRUE(scan_json(ok));
  EXPECT_FALSE(scan_json(deep));
  EXPECT_FALSE(scan_json(std::string(100000, '[')));  // no stack overflow either
}

}  // namespace
}  // namespace tp
