#include "db/postgres/query_auditor.h"

#include <gtest/gtest.h>

#include "protocol/postgres/frontend_messages.h"
#include "unit/protocol_postgres/wire_bytes.h"

namespace tp::db {
namespace {

struct Recorded {
  std::string query;
  std::vector<std::string> parameters;
};

struct Fixture {
  std::vector<Recorded> records;
  QueryAuditor auditor{[this](std::string_view q, std::vector<std::string> p) {
    records.push_back({std::string(q), std::move(p)});
  }};
  pg::Decoder decoder{auditor};

  void feed(const std::string& bytes) {
    auto out = decoder.on_data(bytes, pg::Direction::kFrontend);
    ASSERT_EQ(out.status, pg::DecodeStatus::kOk) << out.error.message;
    ASSERT_EQ(out.consumed, bytes.size());
  }
};

TEST(QueryAuditor, ASimpleQueryIsOneRecord) {
  Fixture f;
  f.feed(pg::encode_query("select 1"));
  ASSERT_EQ(f.records.size(), 1u);
  EXPECT_EQ(f.records[0].query, "select 1");
  EXPECT_TRUE(f.records[0].parameters.empty());
}

TEST(QueryAuditor, EachBindOfAPreparedStatementIsOneRecordWithItsParameters) {
  Fixture f;
  f.feed(pg::encode_parse("s1", "select * from t where id = $1 and name = $2"));
  EXPECT_TRUE(f.records.empty()) << "Parse alone executes nothing";
  f.feed(pg::encode_bind("", "s1", {std::string("7"), std::nullopt}) + pg::encode_execute("") +
         pg::encode_sync());
  f.feed(pg::encode_bind("", "s1", {std::string("8"), std::string("bob")}) + pg::encode_execute("") +
         pg::encode_sync());
  ASSERT_EQ(f.records.size(), 2u);
  EXPECT_EQ(f.records[0].query, "select * from t where id = $1 and name = $2");
  EXPECT_EQ(f.records[0].parameters, (std::vector<std::string>{"7", "NULL"}));
  EXPECT_EQ(f.records[1].parameters, (std::vector<std::string>{"8", "bob"}));
}

TEST(QueryAuditor, TheUnnamedStatementIsReplacedByTheNextParse) {
  Fixture f;
  f.feed(pg::encode_parse("", "select 1") + pg::encode_bind("", "", {}) + pg::encode_parse("", "select 2") +
         pg::encode_bind("", "", {}));
  ASSERT_EQ(f.records.size(), 2u);
  EXPECT_EQ(f.records[0].query, "select 1");
  EXPECT_EQ(f.records[1].query, "select 2");
  EXPECT_EQ(f.auditor.prepared_statements(), 1u);
}

TEST(QueryAuditor, ClosedStatementsAreForgotten) {
  Fixture f;
  f.feed(pg::encode_parse("s1", "select 1"));
  f.feed(pg::test::msg('C', std::string(1, pg::kTargetStatement) + pg::test::cstr("s1")));
  EXPECT_EQ(f.auditor.prepared_statements(), 0u);
}

TEST(QueryAuditor, MemoryForStatementsIsBounded) {
  Fixture f;
  std::string bytes;
  for (size_t i = 0; i < QueryAuditor::kMaxStatements + 10; ++i)
    bytes += pg::encode_parse("s" + std::to_string(i), "select " + std::to_string(i));
  f.feed(bytes);
  EXPECT_EQ(f.auditor.prepared_statements(), QueryAuditor::kMaxStatements);
}

TEST(QueryAuditor, NoticesTerminate) {
  Fixture f;
  EXPECT_FALSE(f.auditor.terminated());
  f.feed(pg::encode_terminate());
  EXPECT_TRUE(f.auditor.terminated());
}

}  // namespace
}  // namespace tp::db
