#include "db/postgres/upstream_login.h"

#include <gtest/gtest.h>

#include "protocol/postgres/backend_messages.h"
#include "protocol/postgres/frontend_messages.h"
#include "protocol/postgres/md5_password.h"
#include "unit/protocol_postgres/wire_bytes.h"

namespace tp::db {
namespace {

using pg::test::be32;
using pg::test::cstr;

// The payload of an 'R' message.
std::string auth(int32_t code, std::string rest = "") {
  return be32(static_cast<uint32_t>(code)) + rest;
}

TEST(UpstreamLogin, CleartextPasswordIsSentAsIs) {
  UpstreamLogin login("alice", "pw", "", crypto_rng());
  auto step = login.on_authentication(auth(3));
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_EQ(step->reply, pg::encode_password_message("pw"));
  EXPECT_FALSE(step->authenticated);
  auto ok = login.on_authentication(auth(0));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->authenticated);
  EXPECT_TRUE(ok->reply.empty());
}

TEST(UpstreamLogin, Md5AnswersWithTheSaltedHash) {
  UpstreamLogin login("alice", "pw", "", crypto_rng());
  auto step = login.on_authentication(auth(5, "\x01\x02\x03\x04"));
  ASSERT_TRUE(step.ok());
  auto expected = pg::compute_md5_password("alice", "pw", {1, 2, 3, 4});
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(step->reply, pg::encode_password_message(*expected));
}

TEST(UpstreamLogin, ScramStartsWithTheInitialResponse) {
  UpstreamLogin login("alice", "pw", "", crypto_rng());
  auto step = login.on_authentication(auth(10, cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + '\0'));
  ASSERT_TRUE(step.ok()) << step.error().message;
  ASSERT_FALSE(step->reply.empty());
  EXPECT_EQ(step->reply[0], 'p');
  EXPECT_NE(step->reply.find("SCRAM-SHA-256"), std::string::npos);
  EXPECT_NE(step->reply.find("n,,n="), std::string::npos) << "gs2 header without channel binding";
  EXPECT_NE(step->reply.find(",r="), std::string::npos);
  // A server-first whose nonce does not extend ours is refused.
  EXPECT_FALSE(login.on_authentication(auth(11, "r=bogus,s=QSXCR+Q6sek8bf92,i=4096")).ok());
}

TEST(UpstreamLogin, ScramMessagesOutOfOrderAreRefused) {
  UpstreamLogin login("alice", "pw", "", crypto_rng());
  EXPECT_FALSE(login.on_authentication(auth(11, "r=x,s=y,i=1")).ok());
  EXPECT_FALSE(login.on_authentication(auth(12, "v=xyz")).ok());
}

TEST(UpstreamLogin, AMissingPasswordMattersOnlyWhenTheServerAsks) {
  UpstreamLogin trusted("alice", std::nullopt, "set TELEPORT_DB_PASSWORD_PG1", crypto_rng());
  auto ok = trusted.on_authentication(auth(0));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->authenticated);

  UpstreamLogin asked("alice", std::nullopt, "set TELEPORT_DB_PASSWORD_PG1", crypto_rng());
  auto step = asked.on_authentication(auth(3));
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.error().message.find("TELEPORT_DB_PASSWORD_PG1"), std::string::npos);
}

TEST(UpstreamLogin, UnsupportedMethodsAreNamed) {
  UpstreamLogin login("alice", "pw", "", crypto_rng());
  EXPECT_FALSE(login.on_authentication(auth(7)).ok()) << "GSSAPI";
  EXPECT_FALSE(login.on_authentication(auth(10, cstr("OAUTHBEARER") + '\0')).ok());
}

}  // namespace
}  // namespace tp::db
