#include "db/session.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "db/agent_context.h"
#include "unit/tunnel/test_pki.h"

namespace tp::db {
namespace {

Database pg1() {
  Database db;
  db.name = "pg1";
  db.protocol = "postgres";
  db.uri = "127.0.0.1:5432";
  db.static_labels = {{"env", "dev"}};
  return db;
}

Identity alice(TimePoint expires = system_clock().now() + std::chrono::hours(1)) {
  Identity id;
  id.username = "alice";
  id.roles = {"access"};
  id.traits = {{"db_users", {"alice"}}, {"db_names", {"app"}}};
  id.route = DatabaseRoute{"pg1", "postgres", "alice", "app"};
  id.expires = expires;
  return id;
}

TEST(VerifyClientIdentity, AcceptsAUserCertificateRoutedToThisDatabase) {
  testing::TestPki pki;
  auto cert = pki.user_cert(alice());
  auto id =
      verify_client_identity(cert.cert_pem, {pki.user_ca.cert_pem}, pg1(), "postgres", system_clock().now());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->username, "alice");
  EXPECT_EQ(id->route->username, "alice");
}

TEST(VerifyClientIdentity, RefusesWhatDoesNotFit) {
  testing::TestPki pki;
  auto now = system_clock().now();
  auto user_ca = std::vector<std::string>{pki.user_ca.cert_pem};

  struct Case {
    const char* name;
    std::string cert;
    std::vector<std::string> cas;
    std::string protocol;
    ErrorCode code;
    std::string says;
  };
  Identity other_db = alice();
  other_db.route->service_name = "mysql1";
  Identity mysql = alice();
  mysql.route->protocol = "mysql";
  Identity no_route = alice();
  no_route.route.reset();
  std::vector<Case> cases = {
      {"no certificate", "", user_ca, "postgres", ErrorCode::kUnauthenticated, "tsh db login pg1"},
      {"another database", pki.user_cert(other_db).cert_pem, user_ca, "postgres", ErrorCode::kAccessDenied,
       "mysql1"},
      {"another protocol", pki.user_cert(mysql).cert_pem, user_ca, "postgres", ErrorCode::kAccessDenied,
       "mysql"},
      {"no route", pki.user_cert(no_route).cert_pem, user_ca, "postgres", ErrorCode::kUnauthenticated,
       "route"},
      {"host certificate",
       pki.host_cert("h", kHostRoleDb).cert_pem,
       {pki.host_ca.cert_pem},
       "postgres",
       ErrorCode::kUnauthenticated,
       "not a user certificate"},
      {"other CA",
       pki.user_cert(alice()).cert_pem,
       {pki.host_ca.cert_pem},
       "postgres",
       ErrorCode::kUnauthenticated,
       "not signed"},
  };
  for (const auto& c : cases) {
    auto id = verify_client_identity(c.cert, c.cas, pg1(), c.protocol, now);
    ASSERT_FALSE(id.ok()) << c.name;
    EXPECT_EQ(id.error().code, c.code) << c.name << ": " << id.error().message;
    EXPECT_NE(id.error().message.find(c.says), std::string::npos) << c.name << ": " << id.error().message;
  }
}

TEST(VerifyClientIdentity, AnExpiredCertificateTellsTheUserToLogIn) {
  testing::TestPki pki;
  auto cert = pki.user_cert(alice(system_clock().now() + std::chrono::minutes(5)));
  auto id = verify_client_identity(cert.cert_pem, {pki.user_ca.cert_pem}, pg1(), "postgres",
                                   system_clock().now() + std::chrono::hours(1));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().code, ErrorCode::kExpired);
  EXPECT_NE(id.error().message.find("tsh login"), std::string::npos);
}

TEST(CheckRoute, TheStartupMustAskForTheRoutesUserAndDatabase) {
  DatabaseRoute route{"pg1", "postgres", "alice", "app"};
  DatabaseRoute open{"pg1", "postgres", "alice", ""};
  struct Case {
    DatabaseRoute route;
    std::string user, database;
    bool ok;
    std::string result_or_message;
  };
  std::vector<Case> cases = {
      {route, "alice", "app", true, "app"},
      {route, "alice", "", true, "app"},
      {route, "bob", "app", false, "database user \"alice\""},
      {route, "alice", "postgres", false, "database name \"app\""},
      {open, "alice", "postgres", true, "postgres"},
      {open, "alice", "", true, ""},
      {DatabaseRoute{"pg1", "postgres", "", ""}, "alice", "", false, "no database user"},
  };
  for (const auto& c : cases) {
    auto r = check_route(c.route, c.user, c.database);
    ASSERT_EQ(r.ok(), c.ok) << c.user << "/" << c.database;
    if (c.ok)
      EXPECT_EQ(*r, c.result_or_message);
    else
      EXPECT_NE(r.error().message.find(c.result_or_message), std::string::npos) << r.error().message;
  }
}

TEST(AuthorizeSession, TheAccessRoleFollowsTheUsersTraits) {
  std::vector<Role> access;
  for (auto& r : builtin_roles())
    if (r.name == "access") access.push_back(r);
  ASSERT_EQ(access.size(), 1u);
  SessionInfo s{"sid", alice(), pg1(), "alice", "app", ""};
  EXPECT_TRUE(authorize_session(access, s).allowed);
  s.db_user = "postgres";
  auto denied = authorize_session(access, s);
  EXPECT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("postgres"), std::string::npos) << denied.reason;
  s.db_user = "alice";
  s.db_name = "other";
  EXPECT_FALSE(authorize_session(access, s).allowed);
}

// One trip to the worker pool answers roles, decision and password; the password is asked for
// only when the roles allow the session.
TEST(AdmitSession, AsksForThePasswordOnlyWhenTheRolesAllowTheSession) {
  std::vector<Role> all = builtin_roles();
  int fetches = 0;
  RoleCache roles(
      [&]() -> Result<std::vector<Role>> {
        ++fetches;
        return all;
      },
      system_clock());
  std::vector<std::string> asked;
  auto credentials =
      make_upstream_credentials(nullptr, [&](const std::string& name) -> std::optional<std::string> {
        asked.push_back(name);
        return "pw";
      });
  Identity user = alice();
  user.roles = {"access"};
  SessionInfo s{"sid", user, pg1(), "alice", "app", ""};

  Admission allowed = admit_session(roles, *credentials, s);
  ASSERT_TRUE(allowed.roles.ok());
  EXPECT_TRUE(allowed.decision.allowed);
  ASSERT_TRUE(allowed.password.ok());
  EXPECT_EQ(*allowed.password, "pw");
  EXPECT_EQ(asked, std::vector<std::string>{password_env_var("pg1")});

  s.db_user = "postgres";
  Admission denied = admit_session(roles, *credentials, s);
  EXPECT_FALSE(denied.decision.allowed);
  EXPECT_FALSE(denied.password.ok());
  EXPECT_EQ(asked.size(), 1u) << "no password for a session the roles refuse";

  s.identity.roles = {"no-such-role"};
  Admission unknown = admit_session(roles, *credentials, s);
  ASSERT_FALSE(unknown.roles.ok());
  EXPECT_NE(unknown.roles.error().message.find("no-such-role"), std::string::npos)
      << unknown.roles.error().message;
  EXPECT_FALSE(unknown.decision.allowed);
  EXPECT_EQ(asked.size(), 1u);
  EXPECT_EQ(fetches, 2) << "one fetch, and one more for the unknown role";
}

nlohmann::json parsed(JsonObjectWriter event) {
  return nlohmann::json::parse(std::move(event).finish());
}

TEST(SessionEvents, CarryTheReferenceFields) {
  SessionInfo s{"sid-1", alice(), pg1(), "alice", "app", "10.0.0.1:5000"};
  auto now = from_unix_seconds(1'700'000'000);
  auto start = parsed(session_start_event(s, access_denied("nope"), now));
  EXPECT_EQ(start["event"], "db.session.start");
  EXPECT_EQ(start["code"], "TDB00W");
  EXPECT_EQ(start["success"], false);
  EXPECT_EQ(start["error"], "nope");
  EXPECT_EQ(start["user"], "alice");
  EXPECT_EQ(start["db_service"], "pg1");
  EXPECT_EQ(start["db_protocol"], "postgres");
  EXPECT_EQ(start["db_uri"], "127.0.0.1:5432");
  EXPECT_EQ(start["db_user"], "alice");
  EXPECT_EQ(start["db_name"], "app");
  EXPECT_EQ(start["sid"], "sid-1");
  EXPECT_EQ(start["time"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(parsed(session_start_event(s, Status{}, now))["code"], "TDB00I");

  auto query = parsed(session_query_event(SessionEventFields(s), "select $1", {"42"}, now));
  EXPECT_EQ(query["event"], "db.session.query");
  EXPECT_EQ(query["db_query"], "select $1");
  EXPECT_EQ(query["db_query_parameters"], nlohmann::json::array({"42"}));
  EXPECT_EQ(query["db_query_parameters_count"], 1);

  // A query's event repeats the session's fields, written once per session.
  for (const char* field :
       {"user", "sid", "db_service", "db_protocol", "db_uri", "db_user", "db_name", "addr.remote"})
    EXPECT_EQ(query[field], start[field]) << field;
  EXPECT_EQ(query["time"], "2023-11-14T22:13:20Z");

  auto end = parsed(session_end_event(s, now, now + std::chrono::seconds(5)));
  EXPECT_EQ(end["event"], "db.session.end");
  EXPECT_EQ(end["code"], "TDB01I");
  EXPECT_EQ(end["session_start"], "2023-11-14T22:13:20Z");
}

TEST(SessionEvents, InvalidUtf8InQueriesDoesNotBreakTheEvent) {
  SessionInfo s{"sid-1", alice(), pg1(), "alice", "app", ""};
  auto query = parsed(session_query_event(SessionEventFields(s), "select '\xff'",
                                          {"caf\xc3\xa9", "\xed\xa0\x80", "\xe2\x82"}, system_clock().now()));
  EXPECT_EQ(query["db_query"], "select '\xef\xbf\xbd'");
  EXPECT_EQ(query["db_query_parameters"][0], "caf\xc3\xa9") << "valid UTF-8 is kept as it is";
  EXPECT_EQ(query["db_query_parameters"][1], "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") << "a surrogate is invalid";
  EXPECT_EQ(query["db_query_parameters"][2], "\xef\xbf\xbd\xef\xbf\xbd") << "a truncated sequence";
  EXPECT_EQ(query["db_query_parameters_count"], 3);
  EXPECT_EQ(parsed(session_query_event(SessionEventFields(s), "\xf0\x9f\x98\x80 4-byte", {},
                                       system_clock().now()))["db_query"],
            "\xf0\x9f\x98\x80 4-byte");
}

TEST(SessionEvents, AHugeQueryIsRecordedByItsHeadAndItsSize) {
  SessionInfo s{"sid-1", alice(), pg1(), "alice", "app", ""};
  std::string bulk = "insert into t values " + std::string(2 * 1024 * 1024, '1');
  auto big = parsed(
      session_query_event(SessionEventFields(s), bulk, {std::string(100 * 1024, 'p')}, system_clock().now()));
  EXPECT_EQ(big["db_query"].get<std::string>().size(), kMaxAuditedQueryBytes);
  EXPECT_EQ(big["db_query"].get<std::string>().substr(0, 21), "insert into t values ");
  EXPECT_EQ(big["db_query_parameters"][0].get<std::string>().size(), kMaxAuditedParameterBytes);
  EXPECT_EQ(big["db_query_truncated"], true);
  EXPECT_EQ(big["db_query_bytes"], bulk.size());
  auto small = parsed(session_query_event(SessionEventFields(s), "select 1", {}, system_clock().now()));
  EXPECT_FALSE(small.contains("db_query_truncated"));
}

}  // namespace
}  // namespace tp::db
