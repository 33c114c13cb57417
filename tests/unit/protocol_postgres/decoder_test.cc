#include "protocol/postgres/decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "wire_bytes.h"

namespace tp::pg {
namespace {

using test::be16;
using test::be32;
using test::cstr;
using test::msg;
using test::startup_packet;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::StrictMock;

class MockCallbacks : public DecoderCallbacks {
 public:
  MOCK_METHOD(void, on_ssl_request, (), (override));
  MOCK_METHOD(void, on_gssenc_request, (), (override));
  MOCK_METHOD(void, on_cancel_request, (const CancelRequest&), (override));
  MOCK_METHOD(void, on_startup_message, (const StartupMessage&), (override));
  MOCK_METHOD(void, on_encryption_response, (bool), (override));
  MOCK_METHOD(void, on_query, (std::string_view), (override));
  MOCK_METHOD(void, on_parse, (const Parse&), (override));
  MOCK_METHOD(void, on_bind, (const Bind&), (override));
  MOCK_METHOD(void, on_execute, (const Execute&), (override));
  MOCK_METHOD(void, on_describe, (const Describe&), (override));
  MOCK_METHOD(void, on_close, (const Close&), (override));
  MOCK_METHOD(void, on_sync, (), (override));
  MOCK_METHOD(void, on_flush, (), (override));
  MOCK_METHOD(void, on_terminate, (), (override));
  MOCK_METHOD(void, on_password_message, (std::string_view), (override));
  MOCK_METHOD(void, on_sasl_initial_response, (const SaslInitialResponse&), (override));
  MOCK_METHOD(void, on_sasl_response, (std::string_view), (override));
  MOCK_METHOD(void, on_auth_response, (std::string_view), (override));
  MOCK_METHOD(void, on_authentication, (const Authentication&), (override));
  MOCK_METHOD(void, on_parameter_status, (std::string_view, std::string_view), (override));
  MOCK_METHOD(void, on_backend_key_data, (int32_t, int32_t), (override));
  MOCK_METHOD(void, on_ready_for_query, (TransactionStatus), (override));
  MOCK_METHOD(void, on_error_response, (const ErrorResponse&), (override));
  MOCK_METHOD(void, on_notice_response, (const NoticeResponse&), (override));
  MOCK_METHOD(void, on_command_complete, (std::string_view), (override));
  MOCK_METHOD(void, on_skipped_message, (Direction, char, size_t), (override));
};

constexpr auto kFrontend = Direction::kFrontend;
constexpr auto kBackend = Direction::kBackend;

// The extended-query sequence a driver sends for `SELECT $1::int` with one parameter.
std::string extended_query() {
  return msg('P', cstr("s1") + cstr("SELECT $1::int") + be16(1) + be32(23)) +
         msg('B', cstr("") + cstr("s1") + be16(0) + be16(1) + be32(2) + "42" + be16(0)) +
         msg('D', "P" + cstr("")) + msg('E', cstr("") + be32(0)) + msg('S', "");
}

void expect_extended_query(MockCallbacks& cb) {
  InSequence seq;
  EXPECT_CALL(cb, on_parse(AllOf(Field(&Parse::statement, "s1"), Field(&Parse::query, "SELECT $1::int"),
                                 Field(&Parse::param_type_oids, ElementsAre(23u)))));
  EXPECT_CALL(cb,
              on_bind(AllOf(Field(&Bind::portal, ""), Field(&Bind::statement, "s1"),
                            Field(&Bind::param_values, ElementsAre(std::optional<std::string_view>("42"))))));
  EXPECT_CALL(cb, on_describe(AllOf(Field(&Describe::target, 'P'), Field(&Describe::name, ""))));
  EXPECT_CALL(cb, on_execute(Field(&Execute::portal, "")));
  EXPECT_CALL(cb, on_sync());
}

// Feeds `stream` in chunks of `chunk` bytes the way a relay does: keep what was not consumed, append
// the next read. Returns the largest number of bytes ever held back.
size_t feed_in_chunks(Decoder& d, const std::string& stream, size_t chunk, Direction dir) {
  std::string pending;
  size_t held = 0;
  for (size_t pos = 0; pos < stream.size(); pos += chunk) {
    pending += stream.substr(pos, chunk);
    auto out = d.on_data(pending, dir);
    EXPECT_NE(out.status, DecodeStatus::kError) << out.error.message;
    pending.erase(0, out.consumed);
    held = std::max(held, pending.size());
  }
  EXPECT_TRUE(pending.empty());
  return held;
}

TEST(Decoder, SimpleQuery) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  EXPECT_CALL(cb, on_query(std::string_view("SELECT 1")));
  auto out = d.on_data(msg('Q', cstr("SELECT 1")), kFrontend);
  EXPECT_EQ(out.status, DecodeStatus::kOk);
  EXPECT_EQ(out.consumed, 14u);
}

TEST(Decoder, ExtendedQueryInOneBuffer) {
  StrictMock<MockCallbacks> cb;
  expect_extended_query(cb);
  Decoder d(cb);
  auto stream = extended_query();
  auto out = d.on_data(stream, kFrontend);
  EXPECT_EQ(out.status, DecodeStatus::kOk);
  EXPECT_EQ(out.consumed, stream.size());
}

TEST(Decoder, NeedsMoreDataAtEverySplitPoint) {
  const std::string stream = extended_query();
  for (size_t split = 0; split <= stream.size(); ++split) {
    StrictMock<MockCallbacks> cb;
    expect_extended_query(cb);
    Decoder d(cb);
    auto first = d.on_data(std::string_view(stream).substr(0, split), kFrontend);
    ASSERT_NE(first.status, DecodeStatus::kError) << split;
    EXPECT_EQ(first.status, first.consumed == split ? DecodeStatus::kOk : DecodeStatus::kNeedMoreData)
        << split;
    auto second = d.on_data(std::string_view(stream).substr(first.consumed), kFrontend);
    EXPECT_EQ(second.status, DecodeStatus::kOk) << split;
    EXPECT_EQ(first.consumed + second.consumed, stream.size()) << split;
  }
}

TEST(Decoder, ByteByByte) {
  StrictMock<MockCallbacks> cb;
  expect_extended_query(cb);
  EXPECT_CALL(cb, on_terminate());
  Decoder d(cb);
  feed_in_chunks(d, extended_query() + msg('X', ""), 1, kFrontend);
}

TEST(Decoder, ResultRowsAreSkippedWithoutBuffering) {
  StrictMock<MockCallbacks> cb;
  const std::string big_value(1 << 20, 'v');
  const std::string data_row = be16(1) + be32(big_value.size()) + big_value;
  const std::string stream =
      msg('T',
          be16(1) + cstr("v") + be32(0) + be16(0) + be32(25) + be16(0xffff) + be32(0xffffffff) + be16(0)) +
      msg('D', data_row) + msg('D', data_row) + msg('C', cstr("SELECT 2")) + msg('Z', "I");
  {
    InSequence seq;
    EXPECT_CALL(cb, on_skipped_message(kBackend, 'T', _));
    EXPECT_CALL(cb, on_skipped_message(kBackend, 'D', data_row.size())).Times(2);
    EXPECT_CALL(cb, on_command_complete(std::string_view("SELECT 2")));
    EXPECT_CALL(cb, on_ready_for_query(TransactionStatus::kIdle));
  }
  Decoder d(cb);
  // Row payloads stream through: only an incomplete header or a small inspected message is held back.
  EXPECT_LT(feed_in_chunks(d, stream, 4096, kBackend), 64u);
}

TEST(Decoder, AuthenticationExchangeWithScram) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  InSequence seq;
  EXPECT_CALL(
      cb, on_authentication(AllOf(Field(&Authentication::request, AuthRequest::kSasl),
                                  Field(&Authentication::sasl_mechanisms, ElementsAre("SCRAM-SHA-256")))));
  EXPECT_CALL(cb, on_sasl_initial_response(Field(&SaslInitialResponse::mechanism, "SCRAM-SHA-256")));
  EXPECT_CALL(cb, on_authentication(Field(&Authentication::data, "r=abc,s=c2FsdA==,i=4096")));
  EXPECT_CALL(cb, on_sasl_response(std::string_view("c=biws,r=abc,p=proof")));
  EXPECT_CALL(cb, on_authentication(Field(&Authentication::request, AuthRequest::kSaslFinal)));
  EXPECT_CALL(cb, on_authentication(Field(&Authentication::request, AuthRequest::kOk)));
  EXPECT_CALL(cb, on_parameter_status(std::string_view("server_version"), std::string_view("15.5")));
  EXPECT_CALL(cb, on_backend_key_data(4242, 99));
  EXPECT_CALL(cb, on_ready_for_query(TransactionStatus::kIdle));

  const std::string first = "n,,n=,r=abc";
  ASSERT_EQ(d.on_data(msg('R', be32(10) + cstr("SCRAM-SHA-256") + std::string(1, '\0')), kBackend).status,
            DecodeStatus::kOk);
  ASSERT_EQ(d.on_data(msg('p', cstr("SCRAM-SHA-256") + be32(first.size()) + first), kFrontend).status,
            DecodeStatus::kOk);
  ASSERT_EQ(d.on_data(msg('R', be32(11) + "r=abc,s=c2FsdA==,i=4096"), kBackend).status, DecodeStatus::kOk);
  ASSERT_EQ(d.on_data(msg('p', "c=biws,r=abc,p=proof"), kFrontend).status, DecodeStatus::kOk);
  auto rest = msg('R', be32(12) + "v=sig") + msg('R', be32(0)) +
              msg('S', cstr("server_version") + cstr("15.5")) + msg('K', be32(4242) + be32(99)) +
              msg('Z', "I");
  auto out = d.on_data(rest, kBackend);
  EXPECT_EQ(out.status, DecodeStatus::kOk);
  EXPECT_EQ(out.consumed, rest.size());
}

TEST(Decoder, PasswordMessageFollowsCleartextOrMd5Request) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  EXPECT_CALL(cb, on_authentication(_));
  EXPECT_CALL(cb, on_password_message(std::string_view("md5abcdef")));
  (void)d.on_data(msg('R', be32(5) + "\x01\x02\x03\x04"), kBackend);
  EXPECT_EQ(d.on_data(msg('p', cstr("md5abcdef")), kFrontend).status, DecodeStatus::kOk);
}

TEST(Decoder, AuthResponseWithoutTheBackendStreamIsReportedRaw) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  EXPECT_CALL(cb, on_auth_response(std::string_view(cstr("secret"))));
  EXPECT_EQ(d.on_data(msg('p', cstr("secret")), kFrontend).status, DecodeStatus::kOk);
}

TEST(Decoder, ErrorAndNoticeResponses) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  EXPECT_CALL(cb, on_notice_response(_));
  EXPECT_CALL(
      cb, on_error_response(
              AllOf(Field(&ErrorResponse::fields,
                          ::testing::Contains(std::pair<const char, std::string_view>('C', "42P01"))),
                    Field(&ErrorResponse::fields, ::testing::Contains(std::pair<const char, std::string_view>(
                                                      'M', "relation \"nope\" does not exist"))))));
  auto stream = msg('N', "S" + cstr("NOTICE") + "M" + cstr("hi") + std::string(1, '\0')) +
                msg('E', "S" + cstr("ERROR") + "C" + cstr("42P01") + "M" +
                             cstr("relation \"nope\" does not exist") + std::string(1, '\0'));
  EXPECT_EQ(d.on_data(stream, kBackend).status, DecodeStatus::kOk);
}

TEST(Decoder, DirectionsKeepSeparateState) {
  // 'S' is Sync from the client and ParameterStatus from the server; a half-skipped server row must
  // not swallow client bytes.
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  EXPECT_CALL(cb, on_skipped_message(kBackend, 'D', 100));
  EXPECT_CALL(cb, on_sync());
  EXPECT_CALL(cb, on_parameter_status(std::string_view("a"), std::string_view("b")));
  auto row = msg('D', std::string(100, 'x'));
  EXPECT_EQ(d.on_data(std::string_view(row).substr(0, 50), kBackend).consumed, 50u);
  EXPECT_EQ(d.on_data(msg('S', ""), kFrontend).status, DecodeStatus::kOk);
  auto rest = row.substr(50) + msg('S', cstr("a") + cstr("b"));
  EXPECT_EQ(d.on_data(rest, kBackend).consumed, rest.size());
}

TEST(Decoder, UnknownTypeIsAnErrorAtTheMessageStart) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  EXPECT_CALL(cb, on_query(_));
  auto out = d.on_data(msg('Q', cstr("SELECT 1")) + msg('!', "junk"), kFrontend);
  EXPECT_EQ(out.status, DecodeStatus::kError);
  EXPECT_EQ(out.consumed, 14u);
  EXPECT_THAT(out.error.message, HasSubstr("unknown message type '!'"));
  EXPECT_THAT(out.error.message, HasSubstr("client"));
  // DataRow is a backend message only.
  EXPECT_EQ(d.on_data(msg('T', ""), kFrontend).status, DecodeStatus::kError);
}

TEST(Decoder, OversizedAndMalformedMessages) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, DecoderOptions{.max_message_length = 1024});
  auto big = d.on_data("Q" + be32(1025), kFrontend);
  EXPECT_EQ(big.status, DecodeStatus::kError);
  EXPECT_THAT(big.error.message, HasSubstr("exceeds the limit of 1024"));
  auto bad =
      d.on_data(msg('B', cstr("") + cstr("") + be16(0) + be16(1) + be32(50) + "x" + be16(0)), kFrontend);
  EXPECT_EQ(bad.status, DecodeStatus::kError);
  EXPECT_EQ(bad.consumed, 0u);
  EXPECT_THAT(bad.error.message, HasSubstr("Bind"));
  EXPECT_EQ(d.on_data(msg('Z', "?"), kBackend).status, DecodeStatus::kError);
}

TEST(Decoder, StopEndsTheCallAfterTheCurrentMessage) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb);
  EXPECT_CALL(cb, on_query(std::string_view("DROP TABLE t"))).WillOnce(Invoke([&d](std::string_view) {
    d.stop();
  }));
  EXPECT_CALL(cb, on_terminate());
  auto query = msg('Q', cstr("DROP TABLE t"));
  auto stream = query + msg('X', "");
  auto out = d.on_data(stream, kFrontend);
  EXPECT_EQ(out.status, DecodeStatus::kStopped);
  EXPECT_EQ(out.consumed, query.size());
  EXPECT_EQ(d.on_data(std::string_view(stream).substr(out.consumed), kFrontend).status, DecodeStatus::kOk);
}

TEST(Decoder, StartupPhaseWithSslNegotiation) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, DecoderOptions{.expect_startup = true});
  InSequence seq;
  EXPECT_CALL(cb, on_ssl_request());
  EXPECT_CALL(cb, on_encryption_response(true));
  EXPECT_CALL(
      cb, on_startup_message(Field(&StartupMessage::parameters,
                                   ElementsAre(std::pair<const std::string, std::string>("user", "alice")))));
  EXPECT_CALL(cb, on_query(std::string_view("SELECT 1")));

  EXPECT_TRUE(d.in_startup_phase());
  EXPECT_EQ(d.on_data(std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8), kFrontend).status,
            DecodeStatus::kOk);
  EXPECT_EQ(d.on_data("S", kBackend).status, DecodeStatus::kOk);
  // After the TLS handshake: the StartupMessage and the first query in one read.
  auto startup = startup_packet(be32(196608) + cstr("user") + cstr("alice") + std::string(1, '\0'));
  auto out = d.on_data(startup + msg('Q', cstr("SELECT 1")), kFrontend);
  EXPECT_EQ(out.status, DecodeStatus::kOk);
  EXPECT_FALSE(d.in_startup_phase());
}

TEST(Decoder, StartupPacketSplitAtEveryPoint) {
  auto startup = startup_packet(be32(196608) + cstr("user") + cstr("alice") + std::string(1, '\0'));
  StrictMock<MockCallbacks> cb;
  EXPECT_CALL(cb, on_startup_message(_));
  Decoder d(cb, DecoderOptions{.expect_startup = true});
  feed_in_chunks(d, startup, 1, kFrontend);
}

TEST(Decoder, RefusedSslThenPlaintextStartup) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, DecoderOptions{.expect_startup = true});
  EXPECT_CALL(cb, on_ssl_request());
  EXPECT_CALL(cb, on_encryption_response(false));
  EXPECT_CALL(cb, on_startup_message(_));
  (void)d.on_data(encode_ssl_request(), kFrontend);
  EXPECT_EQ(d.on_data("N", kBackend).status, DecodeStatus::kOk);
  EXPECT_EQ(
      d.on_data(startup_packet(be32(196608) + cstr("user") + cstr("a") + std::string(1, '\0')), kFrontend)
          .status,
      DecodeStatus::kOk);
}

TEST(Decoder, UnencryptedBytesAfterSslNegotiationAreRefused) {
  // CVE-2021-23214 (server side) and CVE-2021-23222 (client side).
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, DecoderOptions{.expect_startup = true});
  auto injected = d.on_data(encode_ssl_request() + msg('Q', cstr("SELECT 1")), kFrontend);
  EXPECT_EQ(injected.status, DecodeStatus::kError);
  EXPECT_THAT(injected.error.message, HasSubstr("unencrypted data after SSLRequest"));

  StrictMock<MockCallbacks> cb2;
  Decoder d2(cb2, DecoderOptions{.expect_startup = true});
  EXPECT_CALL(cb2, on_ssl_request());
  (void)d2.on_data(encode_ssl_request(), kFrontend);
  auto answer = d2.on_data("S" + msg('R', be32(0)), kBackend);
  EXPECT_EQ(answer.status, DecodeStatus::kError);
  EXPECT_THAT(answer.error.message, HasSubstr("unencrypted data"));
}

TEST(Decoder, CancelRequestAndBadStartup) {
  StrictMock<MockCallbacks> cb;
  Decoder d(cb, DecoderOptions{.expect_startup = true});
  EXPECT_CALL(cb, on_cancel_request(
                      AllOf(Field(&CancelRequest::process_id, 7), Field(&CancelRequest::secret_key, 8))));
  EXPECT_EQ(d.on_data(encode_cancel_request({7, 8}), kFrontend).status, DecodeStatus::kOk);

  Decoder d2(cb, DecoderOptions{.expect_startup = true});
  auto bad =
      d2.on_data(startup_packet(be32(2u << 16) + cstr("user") + cstr("a") + std::string(1, '\0')), kFrontend);
  EXPECT_EQ(bad.status, DecodeStatus::kError);
  EXPECT_THAT(bad.error.message, HasSubstr("unsupported PostgreSQL frontend protocol 2.0"));
  auto huge = Decoder(cb, DecoderOptions{.expect_startup = true}).on_data(be32(20000), kFrontend);
  EXPECT_EQ(huge.status, DecodeStatus::kError);
}

TEST(Decoder, CorruptedStreamsNeverOverrunTheBuffer) {
  // Flip bytes of valid streams (deterministically) and check the decoder's contract: it never claims
  // more bytes than it was given and only reports errors as values. Run under TP_SANITIZE for
  // memory errors.
  const std::string frontend =
      startup_packet(be32(196608) + cstr("user") + cstr("a") + std::string(1, '\0')) + extended_query() +
      msg('Q', cstr("SELECT 1")) + msg('p', cstr("pw"));
  const std::string backend = msg('R', be32(10) + cstr("SCRAM-SHA-256") + std::string(1, '\0')) +
                              msg('E', "S" + cstr("ERROR") + std::string(1, '\0')) +
                              msg('D', be16(1) + be32(1) + "x") + msg('K', be32(1) + be32(2)) + msg('Z', "I");
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245 + 12345; };
  for (int i = 0; i < 3000; ++i) {
    DecoderCallbacks ignore;
    Decoder d(ignore, DecoderOptions{.expect_startup = true, .max_message_length = 1 << 16});
    std::string f = frontend;
    std::string b = backend;
    for (int flips = 0; flips < 3; ++flips) {
      f[next() % f.size()] = static_cast<char>(next() >> 16);
      b[next() % b.size()] = static_cast<char>(next() >> 16);
    }
    size_t cut = next() % (f.size() + 1);
    for (auto [buffer, dir] :
         {std::pair{std::string_view(f).substr(0, cut), kFrontend}, std::pair{std::string_view(b), kBackend},
          std::pair{std::string_view(f), kFrontend}}) {
      auto out = d.on_data(buffer, dir);
      ASSERT_LE(out.consumed, buffer.size());
      if (out.status == DecodeStatus::kError) {
        EXPECT_FALSE(out.error.message.empty());
      }
    }
  }
}

}  // namespace
}  // namespace tp::pg
