#include "proxy/client_errors.h"

#include <gtest/gtest.h>

#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/postgres/backend_messages.h"
#include "protocol/postgres/framer.h"

namespace tp::proxy {
namespace {

TEST(ClientErrorsTest, PostgresErrorIsOneFatalErrorResponse) {
  std::string bytes = postgres_error(unavailable("no Database Service for \"pg\" is connected"));
  auto frame = pg::frame_message(bytes);
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ((*frame)->type, 'E');
  EXPECT_EQ((*frame)->total_size(), bytes.size());
  auto err = pg::parse_error_response((*frame)->payload);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->severity(), "FATAL");
  EXPECT_EQ(err->sqlstate(), "08001");
  EXPECT_EQ(err->message(), "no Database Service for \"pg\" is connected");
}

TEST(ClientErrorsTest, PostgresCertificateProblemsAreAuthorizationErrors) {
  std::string bytes = postgres_error(unauthenticated("no client certificate"));
  auto frame = pg::frame_message(bytes);
  ASSERT_TRUE(frame.ok() && frame->has_value());
  auto err = pg::parse_error_response((*frame)->payload);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->sqlstate(), "28000");
}

TEST(ClientErrorsTest, MysqlErrorIsAnErrPacketInPlaceOfTheGreeting) {
  std::string bytes = mysql_error(unavailable("no Database Service for \"my\" is connected"));
  mysql::PacketFramer framer;
  auto step = framer.next(bytes);
  ASSERT_TRUE(step.ok());
  ASSERT_TRUE(step->packet.has_value());
  EXPECT_EQ(step->consumed, bytes.size());
  EXPECT_EQ(step->packet->sequence_id, 0);
  ASSERT_TRUE(mysql::is_err_packet(step->packet->payload));
  auto err = mysql::parse_err_packet(step->packet->payload, 0);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1105);
  EXPECT_EQ(err->message, "no Database Service for \"my\" is connected");
}

TEST(ClientErrorsTest, MysqlAccessProblemsUseAccessDenied) {
  std::string bytes = mysql_error(expired("certificate expired"));
  mysql::PacketFramer framer;
  auto step = framer.next(bytes);
  ASSERT_TRUE(step.ok() && step->packet);
  auto err = mysql::parse_err_packet(step->packet->payload, 0);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1045);
}

TEST(ClientErrorsTest, DispatchesByProtocol) {
  Error e = unavailable("x");
  EXPECT_EQ(client_error_for_protocol("postgres", e), postgres_error(e));
  EXPECT_EQ(client_error_for_protocol("mysql", e), mysql_error(e));
  EXPECT_EQ(client_error_for_protocol("other", e), "ERROR: x\n");
}

}  // namespace
}  // namespace tp::proxy
