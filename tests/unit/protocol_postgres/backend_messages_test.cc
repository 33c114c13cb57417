#include "protocol/postgres/backend_messages.h"

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

std::string payload_of(const std::string& message, char type) {
  auto f = frame_message(message);
  EXPECT_TRUE(f.ok() && f->has_value());
  if (!f.ok() || !f->has_value()) return {};
  EXPECT_EQ((*f)->type, type);
  EXPECT_EQ((*f)->total_size(), message.size());
  return std::string((*f)->payload);
}

TEST(Authentication, OkAndCleartext) {
  EXPECT_EQ(encode_authentication_ok(), msg('R', be32(0)));
  EXPECT_EQ(encode_authentication_cleartext_password(), msg('R', be32(3)));
  const std::string ok_bytes = be32(0);
  auto ok = parse_authentication(ok_bytes);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->request, AuthRequest::kOk);
  const std::string clear_bytes = be32(3);
  auto clear = parse_authentication(clear_bytes);
  ASSERT_TRUE(clear.ok());
  EXPECT_EQ(clear->request, AuthRequest::kCleartextPassword);
  EXPECT_FALSE(test::accepts(parse_authentication, be32(0) + "x"));
  EXPECT_FALSE(parse_authentication(std::string_view("\0\0", 2)).ok());
}

TEST(Authentication, Md5PasswordCarriesTheSalt) {
  const std::string salt("\x01\x02\xfe\xff", 4);
  EXPECT_EQ(encode_authentication_md5_password({1, 2, 0xfe, 0xff}), msg('R', be32(5) + salt));
  const std::string a_bytes = be32(5) + salt;
  auto a = parse_authentication(a_bytes);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->request, AuthRequest::kMd5Password);
  EXPECT_EQ(a->md5_salt, (std::array<uint8_t, 4>{1, 2, 0xfe, 0xff}));
  const std::string truncated_bytes = be32(5) + "\x01\x02";
  auto truncated = parse_authentication(truncated_bytes);
  ASSERT_FALSE(truncated.ok());
  EXPECT_TRUE(contains(truncated.error().message, "salt")) << truncated.error().message;
}

TEST(Authentication, SaslMechanismsAndContinuation) {
  const std::string sasl =
      be32(10) + cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + std::string(1, '\0');
  EXPECT_EQ(encode_authentication_sasl({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}), msg('R', sasl));
  auto a = parse_authentication(sasl);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->request, AuthRequest::kSasl);
  ASSERT_EQ(a->sasl_mechanisms.size(), 2u);
  EXPECT_EQ(a->sasl_mechanisms[1], "SCRAM-SHA-256");
  EXPECT_FALSE(test::accepts(parse_authentication, be32(10) + cstr("SCRAM-SHA-256")));  // list not terminated
  EXPECT_FALSE(test::accepts(parse_authentication, be32(10) + std::string(1, '\0')));   // no mechanism

  const std::string server_first = "r=abc,s=c2FsdA==,i=4096";
  EXPECT_EQ(encode_authentication_sasl_continue(server_first), msg('R', be32(11) + server_first));
  const std::string cont_bytes = be32(11) + server_first;
  auto cont = parse_authentication(cont_bytes);
  ASSERT_TRUE(cont.ok());
  EXPECT_EQ(cont->request, AuthRequest::kSaslContinue);
  EXPECT_EQ(cont->data, server_first);

  EXPECT_EQ(encode_authentication_sasl_final("v=xyz"), msg('R', be32(12) + "v=xyz"));
  const std::string fin_bytes = be32(12) + "v=xyz";
  auto fin = parse_authentication(fin_bytes);
  ASSERT_TRUE(fin.ok());
  EXPECT_EQ(fin->request, AuthRequest::kSaslFinal);
  EXPECT_EQ(fin->data, "v=xyz");
}

TEST(Authentication, UnknownRequestIsAClearError) {
  const std::string a_bytes = be32(99);
  auto a = parse_authentication(a_bytes);
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(contains(a.error().message, "authentication request type 99")) << a.error().message;
}

TEST(BackendMessages, ParameterStatus) {
  const std::string bytes = msg('S', cstr("server_version") + cstr("15.5"));
  EXPECT_EQ(encode_parameter_status("server_version", "15.5"), bytes);
  const std::string p_bytes = payload_of(bytes, 'S');
  auto p = parse_parameter_status(p_bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->name, "server_version");
  EXPECT_EQ(p->value, "15.5");
  EXPECT_FALSE(test::accepts(parse_parameter_status, cstr("server_version")));
}

TEST(BackendMessages, BackendKeyData) {
  const std::string bytes = msg('K', be32(1234) + be32(0x80000001));
  EXPECT_EQ(encode_backend_key_data(1234, static_cast<int32_t>(0x80000001)), bytes);
  const std::string k_bytes = payload_of(bytes, 'K');
  auto k = parse_backend_key_data(k_bytes);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->process_id, 1234);
  EXPECT_EQ(k->secret_key, static_cast<int32_t>(0x80000001));
  EXPECT_FALSE(test::accepts(parse_backend_key_data, be32(1)));
  const std::string long_key_bytes = be32(1) + std::string(32, 'k');
  auto long_key = parse_backend_key_data(long_key_bytes);
  ASSERT_FALSE(long_key.ok());
  EXPECT_TRUE(contains(long_key.error().message, "protocol 3.0")) << long_key.error().message;
}

TEST(BackendMessages, ReadyForQuery) {
  EXPECT_EQ(encode_ready_for_query(TransactionStatus::kIdle), msg('Z', "I"));
  EXPECT_EQ(encode_ready_for_query(TransactionStatus::kFailedTransaction), msg('Z', "E"));
  auto z = parse_ready_for_query("T");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->status, TransactionStatus::kInTransaction);
  EXPECT_FALSE(parse_ready_for_query("Q").ok());
  EXPECT_FALSE(parse_ready_for_query("").ok());
  EXPECT_FALSE(parse_ready_for_query("II").ok());
}

TEST(BackendMessages, ErrorResponseFromHandBuiltBytes) {
  const std::string e_bytes = "S" + cstr("FATAL") + "V" + cstr("FATAL") + "C" + cstr("28P01") + "M" +
                              cstr("password authentication failed for user \"bob\"") + "F" + cstr("auth.c") +
                              std::string(1, '\0');
  auto e = parse_error_response(e_bytes);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->severity(), "FATAL");
  EXPECT_EQ(e->field('V'), "FATAL");
  EXPECT_EQ(e->sqlstate(), "28P01");
  EXPECT_EQ(e->message(), "password authentication failed for user \"bob\"");
  EXPECT_EQ(e->field('F'), "auth.c");
  EXPECT_EQ(e->detail(), "");
  EXPECT_FALSE(test::accepts(parse_error_response, "S" + cstr("FATAL")));  // no terminator
  EXPECT_FALSE(test::accepts(parse_error_response, "S" + std::string("FATAL")));
  EXPECT_FALSE(test::accepts(parse_error_response, std::string(1, '\0') + "x"));
}

TEST(BackendMessages, ErrorResponseRoundTrip) {
  ErrorReport report;
  report.severity = "FATAL";
  report.sqlstate = sqlstate::kInvalidAuthorizationSpecification;
  report.message = "access to db denied";
  report.detail = "role \"dev\" does not allow db_user \"admin\"";
  report.hint = "ask an administrator";
  const std::string bytes = encode_error_response(report);
  EXPECT_EQ(bytes, msg('E', "S" + cstr("FATAL") + "V" + cstr("FATAL") + "C" + cstr("28000") + "M" +
                                cstr("access to db denied") + "D" + cstr(report.detail) + "H" +
                                cstr("ask an administrator") + std::string(1, '\0')));
  const std::string e_bytes = payload_of(bytes, 'E');
  auto e = parse_error_response(e_bytes);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->severity(), "FATAL");
  EXPECT_EQ(e->sqlstate(), "28000");
  EXPECT_EQ(e->message(), "access to db denied");
  EXPECT_EQ(e->detail(), report.detail);
  EXPECT_EQ(e->hint(), "ask an administrator");

  ErrorReport notice{"WARNING", "01000", "heads up", "", ""};
  const std::string n_bytes = payload_of(encode_notice_response(notice), 'N');
  auto n = parse_error_response(n_bytes);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->fields.size(), 4u);  // S, V, C, M: empty detail and hint are omitted
  EXPECT_EQ(n->message(), "heads up");
}

TEST(BackendMessages, CommandComplete) {
  EXPECT_EQ(encode_command_complete("SELECT 3"), msg('C', cstr("SELECT 3")));
  const std::string c_bytes = cstr("INSERT 0 1");
  auto c = parse_command_complete(c_bytes);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tag, "INSERT 0 1");
  EXPECT_FALSE(parse_command_complete("INSERT").ok());
}

TEST(BackendMessages, RowDescriptionAndDataRow) {
  const std::string d_bytes = be16(2) + cstr("id") + be32(16384) + be16(1) + be32(23) + be16(4) +
                              be32(0xffffffff) + be16(0) + cstr("name") + be32(0) + be16(0) + be32(25) +
                              be16(0xffff) + be32(0xffffffff) + be16(0);
  auto d = parse_row_description(d_bytes);
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_EQ(d->fields.size(), 2u);
  EXPECT_EQ(d->fields[0].name, "id");
  EXPECT_EQ(d->fields[0].table_oid, 16384u);
  EXPECT_EQ(d->fields[0].type_oid, 23u);
  EXPECT_EQ(d->fields[0].type_modifier, -1);
  EXPECT_EQ(d->fields[1].type_size, -1);
  EXPECT_FALSE(test::accepts(parse_row_description, be16(1) + cstr("id") + be32(0)));

  const std::string row_bytes = be16(3) + be32(1) + "7" + be32(0xffffffff) + be32(0);
  auto row = parse_data_row(row_bytes);
  ASSERT_TRUE(row.ok()) << row.error().message;
  ASSERT_EQ(row->values.size(), 3u);
  EXPECT_EQ(*row->values[0], "7");
  EXPECT_FALSE(row->values[1].has_value());
  EXPECT_EQ(*row->values[2], "");
  EXPECT_FALSE(test::accepts(parse_data_row, be16(1) + be32(10) + "short"));
}

TEST(BackendMessages, NotificationResponse) {
  const std::string n_bytes = be32(77) + cstr("backend_events") + cstr("key1");
  auto n = parse_notification_response(n_bytes);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->process_id, 77);
  EXPECT_EQ(n->channel, "backend_events");
  EXPECT_EQ(n->payload, "key1");
  EXPECT_FALSE(test::accepts(parse_notification_response, be32(77) + cstr("backend_events")));
}

TEST(BackendMessages, NegotiateProtocolVersionRoundTrip) {
  const std::string bytes = encode_negotiate_protocol_version(0, {"_pq_.unknown"});
  EXPECT_EQ(bytes, msg('v', be32(0) + be32(1) + cstr("_pq_.unknown")));
  const std::string v_bytes = payload_of(bytes, 'v');
  auto v = parse_negotiate_protocol_version(v_bytes);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->newest_minor, 0);
  ASSERT_EQ(v->unrecognized_options.size(), 1u);
  EXPECT_EQ(v->unrecognized_options[0], "_pq_.unknown");
  EXPECT_FALSE(test::accepts(parse_negotiate_protocol_version, be32(0) + be32(2) + cstr("a")));
}

}  // namespace
}  // namespace tp::pg
