// The web API's handlers over an in-memory Auth Service: no sockets.
#include "proxy/web_api.h"

#include <gtest/gtest.h>

#include "crypto/certs.h"
#include "crypto/keys.h"

namespace tp::proxy {
namespace {

using nlohmann::json;

class WebApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = open_memory_backend(clock_);
    ASSERT_TRUE(backend.ok());
    AuthConfig config;
    config.cluster_name = "web.test";
    auto auth = AuthServer::open(config, std::move(*backend), clock_, rng_);
    ASSERT_TRUE(auth.ok()) << auth.error().message;
    auth_ = std::move(*auth);
    WebApiConfig wc;
    wc.addrs = {"proxy.test:3080", "proxy.test:5432", "", ""};
    api_ = std::make_unique<WebApi>(*auth_, wc);
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key.ok());
    public_key_ = key->public_key_pem();
  }

  net::HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                         std::optional<Identity> peer = std::nullopt,
                         std::map<std::string, std::string> headers = {}) {
    net::HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.peer = std::move(peer);
    r.headers = std::move(headers);
    r.peer_addr = "127.0.0.1:5555";
    return api_->handle(r);
  }

  static json body_of(const net::HttpResponse& r) { return json::parse(r.body, nullptr, false); }

  // A user with a password (through the invite) and the given roles.
  void make_user(const std::string& name, const std::string& password, std::vector<std::string> roles = {"access"}) {
    User u;
    u.name = name;
    u.roles = std::move(roles);
    u.traits = {{"db_users", {name}}, {"db_names", {"postgres"}}};
    auto token = auth_->create_user(u);
    ASSERT_TRUE(token.ok()) << token.error().message;
    ASSERT_TRUE(auth_->complete_invite(*token, password).ok());
  }

  json login_body(const std::string& user, const std::string& password) {
    return {{"user", user}, {"password", password}, {"public_key", public_key_}};
  }

  Identity identity_of(const std::string& user) {
    auto u = auth_->get_user(user);
    EXPECT_TRUE(u.ok());
    Identity id;
    id.username = user;
    id.roles = u->roles;
    id.traits = u->traits;
    id.cluster_name = "web.test";
    id.expires = clock_.now() + std::chrono::hours(1);
    return id;
  }

  void register_db(const std::string& host, const std::string& name, Labels labels) {
    DatabaseServer s;
    s.host_id = host;
    s.hostname = host;
    s.database.name = name;
    s.database.protocol = "postgres";
    s.database.uri = "db.internal:5432";
    s.database.description = name + " database";
    s.database.static_labels = std::move(labels);
    ASSERT_TRUE(auth_->heartbeat_database(s, std::chrono::minutes(5)).ok());
  }

  FakeClock clock_{from_unix_seconds(1'800'000'000)};
  CryptoRng rng_;
  std::unique_ptr<AuthServer> auth_;
  std::unique_ptr<WebApi> api_;
  std::string public_key_;
};

TEST_F(WebApiTest, FindReportsVersionClusterAndListeners) {
  for (const char* path : {"/v1/webapi/find", "/v1/webapi/ping"}) {
    auto r = call("GET", path);
    ASSERT_EQ(r.status, 200) << path;
    json j = body_of(r);
    EXPECT_EQ(j["server_version"], TP_VERSION);
    EXPECT_EQ(j["cluster_name"], "web.test");
    EXPECT_EQ(j["proxy"]["public_addr"], "proxy.test:3080");
    EXPECT_EQ(j["proxy"]["postgres_listen_addr"], "proxy.test:5432");
    EXPECT_EQ(j["proxy"]["mysql_listen_addr"], "");
    EXPECT_EQ(j["proxy"]["tls_routing_enabled"], true);
    EXPECT_EQ(j["auth"]["second_factor"], "off");
  }
}

TEST_F(WebApiTest, LoginCertifiesTheClientsKey) {
  make_user("alice", "correct horse");
  auto r = call("POST", "/v1/webapi/login", login_body("alice", "correct horse").dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_of(r);
  auto id = verify_cert(j["cert"], j["user_cas"].get<std::vector<std::string>>(), clock_.now());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->username, "alice");
  EXPECT_EQ(id->roles, std::vector<std::string>{"access"});
  EXPECT_FALSE(j["host_cas"].empty());
  EXPECT_EQ(j["expires_unix"], to_unix_seconds(clock_.now() + std::chrono::hours(12)));
}

TEST_F(WebApiTest, LoginHonoursTheRequestedTtl) {
  make_user("alice", "correct horse");
  json body = login_body("alice", "correct horse");
  body["ttl_seconds"] = 60;
  auto r = call("POST", "/v1/webapi/login", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["expires_unix"], to_unix_seconds(clock_.now() + std::chrono::seconds(60)));
}

TEST_F(WebApiTest, WrongPasswordThenLockout) {
  make_user("alice", "correct horse");
  for (int i = 0; i < 5; ++i) {
    auto r = call("POST", "/v1/webapi/login", login_body("alice", "wrong").dump());
    EXPECT_EQ(r.status, 403);
    EXPECT_NE(r.body.find("invalid user name or password"), std::string::npos);
  }
  auto locked = call("POST", "/v1/webapi/login", login_body("alice", "correct horse").dump());
  EXPECT_EQ(locked.status, 429);
  EXPECT_NE(locked.body.find("locked"), std::string::npos);
}

TEST_F(WebApiTest, MalformedLoginsAreClearErrors) {
  EXPECT_EQ(call("POST", "/v1/webapi/login", "not json").status, 400);
  EXPECT_EQ(call("POST", "/v1/webapi/login", "[1,2]").status, 400);
  auto wrong_type = call("POST", "/v1/webapi/login", R"({"user": 5, "password": "x", "public_key": "k"})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_NE(wrong_type.body.find("user: must be a string"), std::string::npos);
  auto no_key = call("POST", "/v1/webapi/login", R"({"user": "alice", "password": "x"})");
  EXPECT_EQ(no_key.status, 400);
  EXPECT_NE(no_key.body.find("public_key"), std::string::npos);
}

TEST_F(WebApiTest, InvitePageAndFormSetThePassword) {
  User u;
  u.name = "bob";
  u.roles = {"access"};
  auto token = auth_->create_user(u);
  ASSERT_TRUE(token.ok());
  auto page = call("GET", "/web/invite/" + *token);
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type.rfind("text/html", 0), 0u);
  EXPECT_NE(page.body.find("action=\"/v1/webapi/users/invite/" + *token + "\""), std::string::npos);

  std::map<std::string, std::string> form = {{"content-type", "application/x-www-form-urlencoded"}};
  auto mismatch = call("POST", "/v1/webapi/users/invite/" + *token, "password=abcdefgh&password_confirm=zzz",
                       std::nullopt, form);
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_NE(mismatch.body.find("differ"), std::string::npos);
  auto done = call("POST", "/v1/webapi/users/invite/" + *token,
                   "password=my+secret+pw&password_confirm=my+secret+pw", std::nullopt, form);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("tsh login --proxy=proxy.test:3080 --user=bob"), std::string::npos);
  EXPECT_TRUE(auth_->authenticate("bob", "my secret pw", "", "").ok());
}

TEST_F(WebApiTest, InviteAsJson) {
  User u;
  u.name = "carol";
  u.roles = {"access"};
  auto token = auth_->create_user(u);
  ASSERT_TRUE(token.ok());
  auto r = call("POST", "/v1/webapi/users/invite/" + *token, R"({"password": "carols password"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["user"], "carol");
  auto again = call("POST", "/v1/webapi/users/invite/" + *token, R"({"password": "carols password"})");
  EXPECT_EQ(again.status, 404);
}

TEST_F(WebApiTest, DatabasesNeedAUserCertificateAndFollowRoles) {
  Role dev;
  dev.name = "dev-only";
  dev.allow.db_labels = {{"env", {"dev"}}};
  ASSERT_TRUE(auth_->upsert_role(dev).ok());
  make_user("dana", "dana password", {"dev-only"});
  register_db("agent-1", "devdb", {{"env", "dev"}});
  register_db("agent-2", "devdb", {{"env", "dev"}});
  register_db("agent-1", "proddb", {{"env", "prod"}});

  auto anonymous = call("GET", "/v1/webapi/databases");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.body.find("tsh login"), std::string::npos);

  auto r = call("GET", "/v1/webapi/databases", "", identity_of("dana"));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_of(r);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], "devdb");
  EXPECT_EQ(j[0]["protocol"], "postgres");
  EXPECT_EQ(j[0]["description"], "devdb database");
  EXPECT_EQ(j[0]["labels"]["env"], "dev");
}

TEST_F(WebApiTest, CertificateProblemFromTheListenerIsReported) {
  auto r = call("GET", "/v1/webapi/databases", "", std::nullopt,
                {{kPeerCertErrorHeader, "certificate expired at 2027-01-01T00:00:00Z; run 'tsh login'"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("certificate expired"), std::string::npos);
}

TEST_F(WebApiTest, HostCertificatesCannotListDatabases) {
  Identity host;
  host.kind = IdentityKind::kHost;
  host.username = "agent-1";
  host.roles = {kHostRoleDb};
  EXPECT_EQ(call("GET", "/v1/webapi/databases", "", host).status, 403);
}

TEST_F(WebApiTest, DatabaseCertificateCarriesTheRoute) {
  make_user("alice", "correct horse");
  register_db("agent-1", "pg", {{"env", "dev"}});
  json body = {{"public_key", public_key_}, {"db_name", "pg"}, {"db_user", "alice"}, {"db_database", "postgres"}};
  auto r = call("POST", "/v1/webapi/certs/db", body.dump(), identity_of("alice"));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_of(r);
  EXPECT_EQ(j["database"]["protocol"], "postgres");
  auto id = identity_from_cert_pem(j["cert"]);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(id->route.has_value());
  EXPECT_EQ(*id->route, (DatabaseRoute{"pg", "postgres", "alice", "postgres"}));

  body["db_name"] = "missing";
  auto missing = call("POST", "/v1/webapi/certs/db", body.dump(), identity_of("alice"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("tsh db ls"), std::string::npos);
}

TEST_F(WebApiTest, AgentsJoinOnceWithAToken) {
  auto token = auth_->create_token("db", std::chrono::minutes(5), {});
  ASSERT_TRUE(token.ok());
  json body = {{"token", token->token}, {"host_id", "agent-7"}, {"nodename", "n7"}, {"role", "Db"},
               {"public_key", public_key_}, {"dns_names", {"n7"}}};
  auto r = call("POST", "/v1/webapi/host/join", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_of(r);
  auto id = verify_cert(j["cert"], j["host_cas"].get<std::vector<std::string>>(), clock_.now());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_TRUE(id->is_host_role(kHostRoleDb));
  EXPECT_EQ(call("POST", "/v1/webapi/host/join", body.dump()).status, 403);
}

TEST_F(WebApiTest, ExportsTheHostCa) {
  auto r = call("GET", "/v1/webapi/auth/export");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, auth_->ca_cert_pems(CaType::kHost).front());
}

TEST_F(WebApiTest, UnknownEndpoint) { EXPECT_EQ(call("GET", "/v1/webapi/nope").status, 404); }

}  // namespace
}  // namespace tp::proxy
