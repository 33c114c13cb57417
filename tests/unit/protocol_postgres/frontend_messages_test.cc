#include "protocol/postgres/frontend_messages.h"

#include <gtest/gtest.h>

#include "protocol/postgres/framer.h"
#include "wire_bytes.h"

namespace tp::pg {
namespace {

using test::be16;
using test::be32;
using test::cstr;
using test::msg;

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The payload of an encoded message, after checking its type byte and that it frames exactly.
std::string payload_of(const std::string& message, char type) {
  auto f = frame_message(message);
  EXPECT_TRUE(f.ok() && f->has_value());
  if (!f.ok() || !f->has_value()) return {};
  EXPECT_EQ((*f)->type, type);
  EXPECT_EQ((*f)->total_size(), message.size());
  return std::string((*f)->payload);
}

TEST(FrontendMessages, Query) {
  const std::string q_bytes = cstr("SELECT now()");
  auto q = parse_query(q_bytes);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->text, "SELECT now()");
  EXPECT_EQ(encode_query("SELECT now()"), msg('Q', cstr("SELECT now()")));
  EXPECT_FALSE(parse_query("SELECT").ok());                        // no NUL
  EXPECT_FALSE(test::accepts(parse_query, cstr("SELECT") + "x"));  // trailing bytes
}

TEST(FrontendMessages, EncodersCutStringsAtAnEmbeddedNul) {
  EXPECT_EQ(encode_query(std::string("SELECT 1\0; DROP", 15)), msg('Q', cstr("SELECT 1")));
}

TEST(FrontendMessages, Parse) {
  const std::string p_bytes = cstr("stmt1") + cstr("SELECT $1::int, $2") + be16(2) + be32(23) + be32(0);
  auto p = parse_parse(p_bytes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->statement, "stmt1");
  EXPECT_EQ(p->query, "SELECT $1::int, $2");
  EXPECT_EQ(p->param_type_oids, (std::vector<uint32_t>{23, 0}));

  const std::string unnamed_bytes = cstr("") + cstr("SELECT 1") + be16(0);
  auto unnamed = parse_parse(unnamed_bytes);
  ASSERT_TRUE(unnamed.ok());
  EXPECT_EQ(unnamed->statement, "");
  EXPECT_TRUE(unnamed->param_type_oids.empty());

  const std::string truncated_bytes = cstr("") + cstr("SELECT $1") + be16(2) + be32(23);
  auto truncated = parse_parse(truncated_bytes);
  ASSERT_FALSE(truncated.ok());
  EXPECT_TRUE(contains(truncated.error().message, "Parse")) << truncated.error().message;
}

TEST(FrontendMessages, Bind) {
  const std::string b_bytes = cstr("portal") + cstr("stmt1") + be16(2) + be16(0) +
                              be16(1) +                                      // param formats: text, binary
                              be16(2) + be32(2) + "42" + be32(0xffffffff) +  // values: "42", NULL
                              be16(1) + be16(1);                             // results: binary
  auto b = parse_bind(b_bytes);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->portal, "portal");
  EXPECT_EQ(b->statement, "stmt1");
  EXPECT_EQ(b->param_count(), 2u);
  ASSERT_TRUE(b->param_values[0].has_value());
  EXPECT_EQ(*b->param_values[0], "42");
  EXPECT_FALSE(b->param_values[1].has_value());
  EXPECT_EQ(b->param_format(0), 0);
  EXPECT_EQ(b->param_format(1), 1);
  EXPECT_EQ(b->result_formats, (std::vector<int16_t>{1}));
}

TEST(FrontendMessages, BindFormatRules) {
  // No format codes: all text. One: applies to all. Otherwise one per parameter.
  const std::string none_bytes = cstr("") + cstr("") + be16(0) + be16(1) + be32(1) + "x" + be16(0);
  auto none = parse_bind(none_bytes);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->param_format(0), 0);
  const std::string one_bytes =
      cstr("") + cstr("") + be16(1) + be16(1) + be16(2) + be32(0) + be32(0) + be16(0);
  auto one = parse_bind(one_bytes);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->param_format(1), 1);
  EXPECT_EQ(*one->param_values[0], "");

  const std::string mismatch_bytes =
      cstr("") + cstr("") + be16(2) + be16(0) + be16(0) + be16(3) + be32(0) + be32(0) + be32(0) + be16(0);
  auto mismatch = parse_bind(mismatch_bytes);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_TRUE(contains(mismatch.error().message, "2 parameter formats for 3 parameters"))
      << mismatch.error().message;
  EXPECT_FALSE(
      test::accepts(parse_bind, cstr("") + cstr("") + be16(1) + be16(7) + be16(0) + be16(0)));  // format 7
}

TEST(FrontendMessages, BindRejectsBadValueLengths) {
  const std::string overlong_bytes = cstr("") + cstr("") + be16(0) + be16(1) + be32(100) + "short" + be16(0);
  auto overlong = parse_bind(overlong_bytes);
  ASSERT_FALSE(overlong.ok());
  EXPECT_TRUE(contains(overlong.error().message, "parameter 1 claims 100 bytes")) << overlong.error().message;
  EXPECT_FALSE(
      test::accepts(parse_bind, cstr("") + cstr("") + be16(0) + be16(1) + be32(0xfffffffe) + be16(0)));  // -2
  EXPECT_FALSE(
      test::accepts(parse_bind, cstr("") + cstr("") + be16(0) + be16(2) + be32(0)));  // second value missing
  EXPECT_FALSE(test::accepts(parse_bind, cstr("") + cstr("") + be16(0) + be16(0)));  // result formats missing
  EXPECT_FALSE(test::accepts(parse_bind, cstr("p")));
}

TEST(FrontendMessages, Execute) {
  const std::string e_bytes = cstr("portal") + be32(100);
  auto e = parse_execute(e_bytes);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->portal, "portal");
  EXPECT_EQ(e->max_rows, 100);
  EXPECT_FALSE(test::accepts(parse_execute, cstr("portal") + be16(0)));
}

TEST(FrontendMessages, DescribeAndClose) {
  const std::string d_bytes = "S" + cstr("stmt1");
  auto d = parse_describe(d_bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->target, kTargetStatement);
  EXPECT_EQ(d->name, "stmt1");
  const std::string c_bytes = "P" + cstr("");
  auto c = parse_close(c_bytes);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->target, kTargetPortal);
  const std::string bad_bytes = "X" + cstr("x");
  auto bad = parse_close(bad_bytes);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.error().message, "neither 'S'")) << bad.error().message;
  EXPECT_FALSE(parse_describe("").ok());
}

TEST(FrontendMessages, AuthenticationResponses) {
  const std::string pw_bytes = cstr("md5abc");
  auto pw = parse_password_message(pw_bytes);
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(pw->password, "md5abc");
  EXPECT_EQ(encode_password_message("hunter2"), msg('p', cstr("hunter2")));

  const std::string first = "n,,n=,r=nonce";
  const std::string init_bytes = cstr("SCRAM-SHA-256") + be32(first.size()) + first;
  auto init = parse_sasl_initial_response(init_bytes);
  ASSERT_TRUE(init.ok()) << init.error().message;
  EXPECT_EQ(init->mechanism, "SCRAM-SHA-256");
  ASSERT_TRUE(init->data.has_value());
  EXPECT_EQ(*init->data, first);
  EXPECT_EQ(encode_sasl_initial_response("SCRAM-SHA-256", first),
            msg('p', cstr("SCRAM-SHA-256") + be32(first.size()) + first));

  const std::string no_data_bytes = cstr("SCRAM-SHA-256") + be32(0xffffffff);
  auto no_data = parse_sasl_initial_response(no_data_bytes);
  ASSERT_TRUE(no_data.ok());
  EXPECT_FALSE(no_data->data.has_value());
  EXPECT_EQ(encode_sasl_initial_response("X", std::nullopt), msg('p', cstr("X") + be32(0xffffffff)));
  EXPECT_FALSE(test::accepts(parse_sasl_initial_response, cstr("SCRAM-SHA-256") + be32(50) + "short"));

  auto resp = parse_sasl_response("c=biws,r=x,p=y");
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->data, "c=biws,r=x,p=y");
  EXPECT_EQ(encode_sasl_response("c=biws"), msg('p', "c=biws"));
}

TEST(FrontendMessages, EmptyMessages) {
  EXPECT_TRUE(parse_empty_message("", "Sync").ok());
  auto bad = parse_empty_message("x", "Sync");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.error().message, "Sync")) << bad.error().message;
  EXPECT_EQ(encode_terminate(), std::string("X\x00\x00\x00\x04", 5));
  EXPECT_EQ(encode_sync(), std::string("S\x00\x00\x00\x04", 5));
}

TEST(FrontendMessages, ExtendedQueryEncodersRoundTrip) {
  const std::string parse_bytes = payload_of(encode_parse("s1", "SELECT $1", {25}), 'P');
  auto parse = parse_parse(parse_bytes);
  ASSERT_TRUE(parse.ok());
  EXPECT_EQ(parse->statement, "s1");
  EXPECT_EQ(parse->param_type_oids, (std::vector<uint32_t>{25}));

  const std::string bind_bytes = payload_of(encode_bind("", "s1", {std::string("v"), std::nullopt}), 'B');
  auto bind = parse_bind(bind_bytes);
  ASSERT_TRUE(bind.ok()) << bind.error().message;
  EXPECT_EQ(bind->statement, "s1");
  ASSERT_EQ(bind->param_count(), 2u);
  EXPECT_EQ(*bind->param_values[0], "v");
  EXPECT_FALSE(bind->param_values[1].has_value());

  const std::string exec_bytes = payload_of(encode_execute("", 5), 'E');
  auto exec = parse_execute(exec_bytes);
  ASSERT_TRUE(exec.ok());
  EXPECT_EQ(exec->max_rows, 5);

  const std::string describe_bytes = payload_of(encode_describe(kTargetPortal, "p1"), 'D');
  auto describe = parse_describe(describe_bytes);
  ASSERT_TRUE(describe.ok());
  EXPECT_EQ(describe->target, kTargetPortal);
  EXPECT_EQ(describe->name, "p1");
}

}  // namespace
}  // namespace tp::pg
