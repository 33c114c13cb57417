#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <vector>

namespace tp {
namespace {

using nlohmann::json;

std::string as_json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

TEST(JsonWriter, ValidTextIsWrittenExactlyAsNlohmannWritesIt) {
  std::string every_ascii;
  for (int c = 0; c < 0x80; ++c) every_ascii += static_cast<char>(c);
  for (std::string text :
       {std::string(), every_ascii, std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
        std::string("select 'a\"b' -- \\ \t\n\r")})
    EXPECT_EQ(as_json_string(text), json(text).dump()) << text;
}

TEST(JsonWriter, InvalidUtf8BecomesReplacementCharacters) {
  // Random bytes, biased towards the lead and continuation bytes that make sequences.
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int i = 0; i < 12; ++i) text += static_cast<char>(round % 2 ? byte(gen) : 0x80 + byte(gen) % 0x78);
    const std::string ours = as_json_string(text);
    const json parsed = json::parse(ours);  // always valid JSON
    EXPECT_EQ(parsed.get<std::string>(), sanitize_utf8(text));
    EXPECT_EQ(ours, json(sanitize_utf8(text)).dump());
  }
}

TEST(JsonWriter, SanitizeKeepsValidSequencesAndReplacesEachBadByte) {
  EXPECT_EQ(sanitize_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(sanitize_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") << "a surrogate";
  EXPECT_EQ(sanitize_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd") << "an overlong form";
  EXPECT_EQ(sanitize_utf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd") << "a truncated sequence";
  EXPECT_EQ(sanitize_utf8("\xf4\x90\x80\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")
      << "above U+10FFFF";
}

TEST(JsonWriter, AnObjectFieldByField) {
  JsonObjectWriter w;
  w.add("event", "db.session.query")
      .add("success", true)
      .add("count", size_t{3})
      .add("delta", -2)
      .add("params", std::vector<std::string>{"a", "b\"c"})
      .add("empty", std::vector<std::string>{})
      .add("q\"uoted key", std::string("x"));
  const std::string text = std::move(w).finish();
  EXPECT_EQ(
      text,
      R"({"event":"db.session.query","success":true,"count":3,"delta":-2,"params":["a","b\"c"],"empty":[],)"
      R"("q\"uoted key":"x"})");
  EXPECT_EQ(json::parse(text)["params"][1], "b\"c");
  EXPECT_EQ(std::move(JsonObjectWriter()).finish(), "{}");
}

TEST(JsonWriter, FieldsOfAnotherWriterAreCopiedAsWritten) {
  JsonObjectWriter shared;
  shared.add("user", "al\"ice").add("sid", "s1");
  JsonObjectWriter event(64);
  event.add("event", "q").add_fields_of(shared).add("n", 1);
  EXPECT_EQ(std::move(event).finish(), R"({"event":"q","user":"al\"ice","sid":"s1","n":1})");
  JsonObjectWriter first;
  first.add_fields_of(shared).add("n", 2);
  EXPECT_EQ(std::move(first).finish(), R"({"user":"al\"ice","sid":"s1","n":2})")
      << "no comma before the first field";
  JsonObjectWriter none;
  none.add("a", 1).add_fields_of(JsonObjectWriter()).add("b", 2);
  EXPECT_EQ(std::move(none).finish(), R"({"a":1,"b":2})") << "an empty writer adds nothing";
}

}  // namespace
}  // namespace tp
