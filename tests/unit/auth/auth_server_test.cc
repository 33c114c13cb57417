// AuthServer logic over an in-memory backend with a fake clock.
#include "auth/auth_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/password.h"
#include "rbac/access.h"

namespace tp {
namespace {

class AuthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = open_memory_backend(clock_);
    ASSERT_TRUE(backend.ok());
    AuthConfig config;
    config.cluster_name = "test.local";
    config.public_proxy_addr = "proxy.test:3080";
    auto auth = AuthServer::open(config, std::move(*backend), clock_, rng_);
    ASSERT_TRUE(auth.ok()) << auth.error().message;
    auth_ = std::move(*auth);
  }

  std::string make_user(const std::string& name, const std::string& password,
                        std::vector<std::string> roles = {"access"}) {
    User u;
    u.name = name;
    u.roles = roles;
    u.traits = {{"db_users", {"alice"}}, {"db_names", {"postgres"}}};
    auto token = auth_->create_user(u);
    EXPECT_TRUE(token.ok()) << token.error().message;
    auto done = auth_->complete_invite(*token, password);
    EXPECT_TRUE(done.ok()) << done.error().message;
    return *token;
  }

  FakeClock clock_{from_unix_seconds(1'700'000'000)};
  CryptoRng rng_;
  std::unique_ptr<AuthServer> auth_;
};

// The reference's event codes: one per type, I for success and W for failure, TX000 for a type
// without one.
TEST(EventCodes, EachTypeHasItsCodeAndTheOutcomeItsLetter) {
  EXPECT_EQ(events::code_for(events::kUserLogin, true), "T1000I");
  EXPECT_EQ(events::code_for(events::kUserLogin, false), "T1000W");
  EXPECT_EQ(events::code_for(events::kJoinTokenCreate, true), "TJT00I");
  EXPECT_EQ(events::code_for(events::kDbSessionStart, false), "TDB00W");
  EXPECT_EQ(events::code_for(events::kDbSessionEnd, true), "TDB01I");
  EXPECT_EQ(events::code_for(events::kDbSessionQuery, true), "TDB02I");
  EXPECT_EQ(events::code_for(events::kDbDelete, true), "TDB05I");
  EXPECT_EQ(events::code_for("db.session.unknown", true), "TX000I");
  EXPECT_EQ(events::code_for("", false), "TX000W");
  EXPECT_EQ(events::code_for("db.session", true), "TX000I") << "a prefix of a type is not the type";
}

TEST_F(AuthServerTest, CreatesAuthoritiesOnce) {
  auto user_ca = auth_->authority(CaType::kUser);
  auto host_ca = auth_->authority(CaType::kHost);
  auto db_ca = auth_->authority(CaType::kDb);
  ASSERT_TRUE(user_ca.ok() && host_ca.ok() && db_ca.ok());
  EXPECT_NE(user_ca->cert_pem, host_ca->cert_pem);
  auto pin = auth_->ca_pin();
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(pin->substr(0, 7), "sha256:");
  EXPECT_EQ(pin->size(), 7u + 64u);
}

TEST_F(AuthServerTest, InviteSetsPasswordAndLoginWorks) {
  auto invite = make_user("alice", "correct horse");
  EXPECT_EQ(auth_->invite_url(invite), "https://proxy.test:3080/web/invite/" + invite);
  EXPECT_TRUE(auth_->authenticate("alice", "correct horse", "", "127.0.0.1").ok());
  auto bad = auth_->authenticate("alice", "wrong password", "", "127.0.0.1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kAccessDenied);
  // The invite is single use.
  EXPECT_FALSE(auth_->complete_invite(invite, "another password").ok());
}

TEST_F(AuthServerTest, UnknownUserAndWrongPasswordLookAlike) {
  make_user("alice", "correct horse");
  auto unknown = auth_->authenticate("mallory", "x", "", "");
  auto wrong = auth_->authenticate("alice", "x", "", "");
  ASSERT_FALSE(unknown.ok());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(unknown.error().message, wrong.error().message);
}

TEST_F(AuthServerTest, LocksAfterRepeatedFailuresAndUnlocksLater) {
  make_user("alice", "correct horse");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(auth_->authenticate("alice", "nope", "", "").ok());
  auto locked = auth_->authenticate("alice", "correct horse", "", "");
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(locked.error().message.find("locked"), std::string::npos);
  clock_.advance(std::chrono::minutes(21));
  EXPECT_TRUE(auth_->authenticate("alice", "correct horse", "", "").ok());
}

TEST_F(AuthServerTest, InviteExpires) {
  User u;
  u.name = "bob";
  u.roles = {"access"};
  auto token = auth_->create_user(u);
  ASSERT_TRUE(token.ok());
  clock_.advance(std::chrono::minutes(61));
  auto r = auth_->complete_invite(*token, "long enough");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tctl users reset"), std::string::npos);
}

TEST_F(AuthServerTest, RejectsUnknownRoleAndDuplicateUser) {
  User u;
  u.name = "carol";
  u.roles = {"nosuch"};
  auto r = auth_->create_user(u);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("role \"nosuch\" does not exist"), std::string::npos);
  make_user("dave", "correct horse");
  User again;
  again.name = "dave";
  again.roles = {"access"};
  auto dup = auth_->create_user(again);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(AuthServerTest, UserCertCarriesIdentityAndIsCappedByRole) {
  make_user("alice", "correct horse");
  auto key = PrivateKey::generate();
  ASSERT_TRUE(key.ok());
  UserCertRequest req{"alice", key->public_key_pem(), std::chrono::hours(100), std::nullopt};
  auto certs = auth_->issue_user_certs(req);
  ASSERT_TRUE(certs.ok()) << certs.error().message;
  auto id = verify_cert(certs->cert_pem, certs->user_ca_pems, clock_.now());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->username, "alice");
  EXPECT_EQ(id->roles, std::vector<std::string>{"access"});
  EXPECT_EQ(id->traits.at("db_users"), std::vector<std::string>{"alice"});
  // The access role's max_session_ttl (12h) caps the 100h request.
  EXPECT_LE(certs->expires - clock_.now(), std::chrono::hours(12));
  // Not trusted by the host CA.
  EXPECT_FALSE(verify_cert(certs->cert_pem, certs->host_ca_pems, clock_.now()).ok());
}

TEST_F(AuthServerTest, JoinTokenIsTypedSingleUseAndExpires) {
  auto key = PrivateKey::generate();
  ASSERT_TRUE(key.ok());
  auto token = auth_->create_token("db", std::chrono::minutes(30), {{"env", "dev"}});
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->roles, std::vector<std::string>{"Db"});

  JoinRequest wrong_role{token->token, "host-1", "node", "Proxy", key->public_key_pem(), {}};
  auto refused = auth_->join(wrong_role, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not for a Proxy"), std::string::npos);

  JoinRequest good{token->token, "host-1", "node", "Db", key->public_key_pem(), {"agent.local"}};
  auto joined = auth_->join(good, "");
  ASSERT_TRUE(joined.ok()) << joined.error().message;
  auto id = verify_cert(joined->cert_pem, joined->host_ca_pems, clock_.now());
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(id->is_host_role(kHostRoleDb));
  EXPECT_EQ(id->username, "host-1");

  auto reused = auth_->join(good, "");
  ASSERT_FALSE(reused.ok());
  EXPECT_NE(reused.error().message.find("already used or expired"), std::string::npos);

  auto short_lived = auth_->create_token("db", std::chrono::minutes(1), {});
  ASSERT_TRUE(short_lived.ok());
  clock_.advance(std::chrono::minutes(2));
  JoinRequest late{short_lived->token, "host-2", "node", "Db", key->public_key_pem(), {}};
  EXPECT_FALSE(auth_->join(late, "").ok());
  EXPECT_FALSE(auth_->create_token("bogus", std::chrono::minutes(1), {}).ok());
}

TEST_F(AuthServerTest, DatabaseHeartbeatsExpire) {
  DatabaseServer s;
  s.host_id = "host-1";
  s.database.name = "pg";
  s.database.protocol = "postgres";
  s.database.uri = "localhost:5432";
  ASSERT_TRUE(auth_->heartbeat_database(s, std::chrono::seconds(60)).ok());
  EXPECT_EQ(auth_->database_servers("pg")->size(), 1u);
  clock_.advance(std::chrono::seconds(61));
  EXPECT_TRUE(auth_->database_servers("pg")->empty());
}

// The proxy looks the database servers up for every connection from a copy in
// memory: it must see what the backend had before (a previous process's
// heartbeats) and every later heartbeat, removal and expiry.
TEST_F(AuthServerTest, DatabaseServerLookupsFollowHeartbeatsRemovalsAndExpiry) {
  auto server = [](const std::string& db, const std::string& host) {
    DatabaseServer s;
    s.host_id = host;
    s.database.name = db;
    s.database.protocol = "postgres";
    s.database.uri = "localhost:5432";
    return s;
  };
  auto hosts = [&](const std::string& db) {
    std::vector<std::string> out;
    auto servers = db.empty() ? auth_->list_database_servers() : auth_->database_servers(db);
    EXPECT_TRUE(servers.ok());
    if (servers.ok())
      for (const auto& s : *servers) out.push_back(s.database.name + "/" + s.host_id);
    return out;
  };
  // Written before this process looked: as a heartbeat from the previous run.
  DatabaseServer earlier = server("pg", "host-0");
  earlier.expires = clock_.now() + std::chrono::seconds(30);
  ASSERT_TRUE(auth_->backend().put({"/db_servers/pg/host-0", earlier.to_json().dump(), earlier.expires}).ok());
  EXPECT_THAT(hosts("pg"), ::testing::ElementsAre("pg/host-0"));

  ASSERT_TRUE(auth_->heartbeat_database(server("pg", "host-1"), std::chrono::seconds(60)).ok());
  ASSERT_TRUE(auth_->heartbeat_database(server("pg2", "host-1"), std::chrono::seconds(60)).ok());
  EXPECT_THAT(hosts("pg"), ::testing::ElementsAre("pg/host-0", "pg/host-1"));  // not pg2
  EXPECT_THAT(hosts("pg2"), ::testing::ElementsAre("pg2/host-1"));
  EXPECT_THAT(hosts(""), ::testing::ElementsAre("pg/host-0", "pg/host-1", "pg2/host-1"));

  ASSERT_TRUE(auth_->remove_database_server("pg", "host-1").ok());
  EXPECT_THAT(hosts("pg"), ::testing::ElementsAre("pg/host-0"));

  clock_.advance(std::chrono::seconds(31));  // host-0 stopped heartbeating
  EXPECT_TRUE(hosts("pg").empty());
  ASSERT_TRUE(auth_->heartbeat_database(server("pg2", "host-1"), std::chrono::seconds(60)).ok());
  clock_.advance(std::chrono::seconds(40));  // renewed: still there
  EXPECT_THAT(hosts(""), ::testing::ElementsAre("pg2/host-1"));
  EXPECT_TRUE(auth_->backend().get("/db_servers/pg/host-1").error().code == ErrorCode::kNotFound);
}

TEST_F(AuthServerTest, AuditEventsAreFilterable) {
  make_user("alice", "correct horse");
  (void)auth_->authenticate("alice", "bad", "", "");
  (void)auth_->authenticate("alice", "correct horse", "", "");
  auto logins = auth_->search_events({.type = "user.login", .user = "alice"});
  ASSERT_TRUE(logins.ok());
  ASSERT_EQ(logins->size(), 2u);
  EXPECT_EQ((*logins)[0].value("code", ""), "T1000W");
  EXPECT_EQ((*logins)[1].value("code", ""), "T1000I");
  auto creates = auth_->search_events({.type = "user.create"});
  ASSERT_EQ(creates->size(), 1u);
}

TEST_F(AuthServerTest, AuditSearchFiltersByTheEventsOwnTimeAndDecodedFields) {
  const std::string host = "host-1";
  // An agent's spool delivers an old event late; escapes in the type or user do not hide them.
  ASSERT_TRUE(
      auth_
          ->emit_event_lines(
              {R"({"event":"db.session.query","code":"c","uid":"u1","time":"2023-11-14T21:00:00Z","user":"bob"})",
               R"({"event":"db.session.qu\u0065ry","code":"c","uid":"u2","time":"2023-11-14T22:00:00+01:00",)"
               R"("user":"b\u006fb"})",
               R"({"event":"db.session.query","code":"c","uid":"u3","time":"2023-11-14T22:13:20Z","user":"bob"})"},
              &host)
          .ok());
  auto uids = [this](const EventFilter& f) {
    std::vector<std::string> out;
    auto events = auth_->search_events(f);
    EXPECT_TRUE(events.ok());
    if (events.ok())
      for (const auto& e : *events) out.push_back(e.value("uid", ""));
    return out;
  };
  EXPECT_THAT(uids({.type = "db.session.query", .user = "bob"}), ::testing::ElementsAre("u1", "u2", "u3"));
  const TimePoint at_21 = from_unix_seconds(1'699'995'600);  // 2023-11-14T21:00:00Z
  EXPECT_THAT(uids({.user = "bob", .from = at_21 + std::chrono::seconds(1)}), ::testing::ElementsAre("u3"));
  EXPECT_THAT(uids({.user = "bob", .to = at_21}), ::testing::ElementsAre("u1", "u2"));
  EXPECT_THAT(uids({.user = "bob", .limit = 1}), ::testing::ElementsAre("u3"));
}

TEST_F(AuthServerTest, AnEventBatchIsStoredInOrderOrNotAtAll) {
  std::vector<nlohmann::json> batch;
  for (int i = 0; i < 3; ++i) batch.push_back({{"event", "db.session.query"}, {"user", "bob"}, {"db_query", std::to_string(i)}});
  ASSERT_TRUE(auth_->emit_events(batch).ok());
  auto queries = auth_->search_events({.type = "db.session.query"});
  ASSERT_TRUE(queries.ok());
  ASSERT_EQ(queries->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*queries)[i].value("db_query", ""), std::to_string(i));
    EXPECT_EQ((*queries)[i].value("cluster_name", ""), "test.local");
    EXPECT_FALSE((*queries)[i].value("uid", "").empty());
  }

  std::vector<nlohmann::json> bad = {{{"event", "db.session.query"}, {"db_query", "3"}}, {{"user", "no type"}}};
  auto s = auth_->emit_events(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, ::testing::HasSubstr("event 2 of 2: missing type"));
  EXPECT_EQ(auth_->search_events({.type = "db.session.query"})->size(), 3u);
}

TEST_F(AuthServerTest, AgentEventLinesAreStoredAsTheyCameWithTheClusterAndServerInFront) {
  const std::string complete =
      R"({"event":"db.session.query","code":"TDB02I","success":true,"time":"2026-01-01T00:00:00Z","user":"bob",)"
      R"("db_query":"select 'é' -- \"x\"","uid":"u1"})";
  const std::string host = "host-1";
  const std::string spoofing =
      R"({"event":"db.session.query","server_id":"other","uid":"u2","time":"t","code":"c","user":"bob"})";
  const std::string bare = R"({"event":"db.session.end","user":"bob"})";
  ASSERT_TRUE(auth_->emit_event_lines({complete, spoofing, bare}, &host).ok());

  auto records = auth_->backend().search_audit_events({.limit = 3});
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 3u);
  std::vector<std::string> lines;
  for (const auto& r : *records) lines.push_back(r.text);
  EXPECT_EQ((*records)[0].type, "db.session.query");
  EXPECT_EQ((*records)[0].user, "bob");
  EXPECT_EQ((*records)[0].time, from_unix_seconds(1767225600)) << "the event's own time";
  EXPECT_EQ((*records)[2].type, "db.session.end");
  EXPECT_EQ((*records)[2].time, clock_.now()) << "completed with the time it arrived";
  EXPECT_EQ(lines[0], R"({"cluster_name":"test.local","server_id":"host-1",)" + complete.substr(1))
      << "the agent's text is kept byte for byte";
  auto spoofed = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(spoofed["server_id"], "host-1") << "an agent speaks only for itself";
  EXPECT_EQ(spoofed["uid"], "u2");
  auto completed = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(completed["code"], "TDB01I");
  EXPECT_EQ(completed["cluster_name"], "test.local");
  EXPECT_FALSE(completed.value("uid", "").empty());
  EXPECT_FALSE(completed.value("time", "").empty());
  EXPECT_EQ(auth_->search_events({.user = "bob"})->size(), 3u);

  for (const std::string& bad :
       {std::string(R"(["event"])"), std::string(R"({"event":1})"),
        std::string(R"({"event":"x"} {"event":"y"})"), std::string(R"({"event":"x")"),
        std::string(R"({"\u0065vent":1})"), std::string("{\"event\":\"x\",\"user\":\"\xc3\"}")}) {
    auto s = auth_->emit_event_lines({bare, bad}, &host);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.error().message, ::testing::HasSubstr("event 2 of 2:")) << bad;
    EXPECT_THAT(s.error().message, ::testing::HasSubstr("nothing in this batch was stored"));
  }
  EXPECT_EQ(auth_->search_events({.user = "bob"})->size(), 3u);

  // A field name written with an escape is the same field: it cannot smuggle a server_id past us.
  const std::string escaped =
      R"({"event":"db.session.query","\u0073erver_id":"other","uid":"u3","time":"t","code":"c","user":"bob"})";
  ASSERT_TRUE(auth_->emit_event_lines({escaped}, &host).ok());
  records = auth_->backend().search_audit_events({.limit = 1});
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(records->back().text)["server_id"], "host-1");
}

}  // namespace
}  // namespace tp
