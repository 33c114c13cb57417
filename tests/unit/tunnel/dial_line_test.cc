#include "tunnel/dial_line.h"

#include <gtest/gtest.h>

#include "common/release.h"
#include "tunnel/tunnel.h"

namespace tp::tunnel {
namespace {

TEST(DialLine, RoundTripsEveryFieldIncludingBinaryInitialData) {
  DialRequest r;
  r.db_name = "pg-main";
  r.protocol = "postgres";
  r.client_cert_pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";
  r.client_addr = "127.0.0.1:5555";
  r.session_id = "sid-1";
  r.initial_data = std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f\xff\n", 10);  // not UTF-8, has '\n'
  std::string line = encode_dial_line(r);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line only";
  auto back = decode_dial_line(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->kind, kDialDatabase);
  EXPECT_EQ(back->db_name, r.db_name);
  EXPECT_EQ(back->protocol, r.protocol);
  EXPECT_EQ(back->client_cert_pem, r.client_cert_pem);
  EXPECT_EQ(back->client_addr, r.client_addr);
  EXPECT_EQ(back->session_id, r.session_id);
  EXPECT_EQ(back->initial_data, r.initial_data);
}

TEST(DialLine, CancelRequestsCarryTheKey) {
  DialRequest r;
  r.kind = kDialPostgresCancel;
  r.cancel_process_id = 0x80000001u;
  r.cancel_secret_key = 0xdeadbeefu;
  std::string line = encode_dial_line(r);
  auto back = decode_dial_line(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->kind, kDialPostgresCancel);
  EXPECT_EQ(back->cancel_process_id, 0x80000001u);
  EXPECT_EQ(back->cancel_secret_key, 0xdeadbeefu);
}

TEST(DialLine, RejectsWhatIsNotADialRequest) {
  EXPECT_FALSE(decode_dial_line("not json").ok());
  EXPECT_FALSE(decode_dial_line("[1,2]").ok());
  EXPECT_FALSE(decode_dial_line(R"({"kind":"ssh","db_name":"x"})").ok());
  EXPECT_FALSE(decode_dial_line(R"({"kind":"db"})").ok()) << "a database dial names its database";
  EXPECT_FALSE(decode_dial_line(R"({"kind":"db","db_name":"x","initial_data_b64":"***"})").ok());
  EXPECT_FALSE(decode_dial_line(R"({"kind":"db","db_name":7})").ok());
}

TEST(DialAnswer, OkAndRefusalsRoundTrip) {
  std::string ok = encode_dial_answer(Status{});
  EXPECT_TRUE(decode_dial_answer(std::string_view(ok).substr(0, ok.size() - 1)).ok());

  std::string refused = encode_dial_answer(not_found("no such database \"x\""));
  auto status = decode_dial_answer(std::string_view(refused).substr(0, refused.size() - 1));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message, "no such database \"x\"");
}

TEST(DialAnswer, LongMessagesAreCutToFitTheLine) {
  std::string line = encode_dial_answer(internal_error(std::string(10000, 'x')));
  EXPECT_LE(line.size(), kMaxAnswerLine);
  EXPECT_FALSE(decode_dial_answer(std::string_view(line).substr(0, line.size() - 1)).ok());
}

TEST(DialAnswer, GarbageIsUnavailable) {
  auto status = decode_dial_answer("HTTP/1.1 400 Bad Request");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
}

TEST(ErrorCodeNames, RoundTrip) {
  for (ErrorCode c :
       {ErrorCode::kNotFound, ErrorCode::kAccessDenied, ErrorCode::kUnavailable, ErrorCode::kExpired})
    EXPECT_EQ(error_code_from_name(error_code_name(c)), c);
  EXPECT_EQ(error_code_from_name("bogus"), ErrorCode::kInternal);
}

// A session keeps its dial request's coroutine frame for its whole life; releasing the request
// must give back the strings' buffers, the user's certificate above all, not only empty them.
TEST(DialRequestRelease, GivesBackEveryStringsBuffer) {
  DialRequest r;
  r.db_name = std::string(100, 'd');
  r.protocol = std::string(100, 'p');
  r.client_cert_pem = std::string(1000, 'c');
  r.client_addr = std::string(100, 'a');
  r.session_id = std::string(100, 's');
  r.initial_data = std::string(1000, 'i');
  release(r);
  const std::string empty;  // what a string with no buffer of its own can hold
  EXPECT_EQ(r.kind, kDialDatabase);  // a fresh request
  for (const std::string* field : {&r.kind, &r.db_name, &r.protocol, &r.client_cert_pem, &r.client_addr,
                                   &r.session_id, &r.initial_data}) {
    if (field != &r.kind) {
      EXPECT_TRUE(field->empty());
    }
    EXPECT_LE(field->capacity(), empty.capacity()) << "a released request still holds a buffer";
  }
}

}  // namespace
}  // namespace tp::tunnel
