// The Auth Service API through its real interface: HTTP/JSON over mutual TLS.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <thread>

#include "auth/api_server.h"
#include "net/http_client.h"
#include "net/server.h"
#include "net/tls.h"

namespace tp {
namespace {

namespace asio = boost::asio;

struct Creds {
  std::string cert, key;
};

class AuthApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = open_memory_backend(system_clock());
    ASSERT_TRUE(backend.ok());
    AuthConfig config;
    config.cluster_name = "api.test";
    auto auth = AuthServer::open(config, std::move(*backend), system_clock(), rng_);
    ASSERT_TRUE(auth.ok()) << auth.error().message;
    auth_ = std::move(*auth);
    api_ = std::make_unique<AuthApi>(*auth_);

    auto key = PrivateKey::generate();
    auto certs = auth_->issue_host_certs("auth", kHostRoleAuth, key->public_key_pem(), {"localhost", "127.0.0.1"});
    ASSERT_TRUE(certs.ok());
    std::vector<std::string> cas = certs->host_ca_pems;
    cas.insert(cas.end(), certs->user_ca_pems.begin(), certs->user_ca_pems.end());
    host_ca_ = certs->host_ca_pems;
    auto ctx = net::make_server_context({certs->cert_pem, key->to_pem(), cas, true, {}});
    ASSERT_TRUE(ctx.ok());
    ctx_ = std::make_unique<asio::ssl::context>(std::move(*ctx));
    auto acceptor = net::listen_tcp(io_, {"127.0.0.1", 0});
    ASSERT_TRUE(acceptor.ok());
    acceptor_ = std::make_unique<net::tcp::acceptor>(std::move(*acceptor));
    port_ = acceptor_->local_endpoint().port();
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    io_.stop();
    thread_.join();
  }

  asio::awaitable<void> accept() {
    while (true) {
      auto socket = co_await acceptor_->async_accept(asio::use_awaitable);
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(net::tcp::socket socket) {
    ++connections_;
    net::TlsStream stream(std::move(socket), *ctx_);
    if (!co_await net::tls_handshake(stream, asio::ssl::stream_base::server, std::chrono::seconds(5))) co_return;
    std::optional<Identity> peer;
    if (auto id = net::peer_identity(stream.native_handle()); id.ok()) peer = *id;
    net::HttpHandler handler = [this](net::HttpRequest& r) { return api_->handle(r); };
    co_await net::serve_http(stream, handler, peer, "test", idle_timeout_);
  }

  Creds host_creds(const std::string& role) {
    auto key = PrivateKey::generate();
    auto certs = auth_->issue_host_certs("h-" + role, role, key->public_key_pem(), {});
    EXPECT_TRUE(certs.ok());
    return {certs->cert_pem, key->to_pem()};
  }

  Creds user_creds(const std::string& name, std::vector<std::string> roles) {
    User u;
    u.name = name;
    u.roles = roles;
    auto invite = auth_->create_user(u);
    EXPECT_TRUE(invite.ok()) << invite.error().message;
    auto key = PrivateKey::generate();
    auto certs = auth_->issue_user_certs({name, key->public_key_pem(), std::chrono::hours(1), std::nullopt});
    EXPECT_TRUE(certs.ok());
    return {certs->cert_pem, key->to_pem()};
  }

  net::HttpsClient client(const Creds& c) {
    net::TlsClientConfig tls;
    tls.cert_pem = c.cert;
    tls.key_pem = c.key;
    tls.ca_pems = host_ca_;
    tls.server_name = "localhost";
    return net::HttpsClient({"127.0.0.1", port_}, tls, std::chrono::seconds(5));
  }

  CryptoRng rng_;
  std::unique_ptr<AuthServer> auth_;
  std::unique_ptr<AuthApi> api_;
  asio::io_context io_;
  std::unique_ptr<asio::ssl::context> ctx_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::vector<std::string> host_ca_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<int> connections_ = 0;
  std::chrono::seconds idle_timeout_{60};
};

TEST_F(AuthApiTest, AdminManagesUsersRolesAndTokens) {
  auto admin = client(host_creds(kHostRoleAdmin));
  auto info = admin.call("GET", "/v1/cluster");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->value("cluster_name", ""), "api.test");

  nlohmann::json user = {{"kind", "user"},
                         {"metadata", {{"name", "alice"}}},
                         {"spec", {{"roles", {"access"}}, {"traits", {{"db_users", {"alice"}}}}}}};
  auto created = admin.call("POST", "/v1/users", user);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_FALSE(created->value("invite_token", "").empty());
  auto users = admin.call("GET", "/v1/users");
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_FALSE((*users)[0].contains("secrets"));  // hashes never leave the Auth Service

  nlohmann::json role = {{"kind", "role"},
                         {"version", "v7"},
                         {"metadata", {{"name", "reader"}}},
                         {"spec", {{"allow", {{"db_labels", {{"env", "dev"}}}, {"db_users", {"ro"}}}}}}};
  ASSERT_TRUE(admin.call("PUT", "/v1/roles", role).ok());
  auto got = admin.call("GET", "/v1/roles/reader");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value("/metadata/name"_json_pointer, ""), "reader");
  ASSERT_TRUE(admin.call("DELETE", "/v1/roles/reader").ok());
  auto gone = admin.call("GET", "/v1/roles/reader");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);

  auto token = admin.call("POST", "/v1/tokens", {{"type", "db"}, {"ttl_seconds", 600}});
  ASSERT_TRUE(token.ok()) << token.error().message;
  auto tokens = admin.call("GET", "/v1/tokens");
  ASSERT_EQ(tokens->size(), 1u);
  auto bad = admin.call("POST", "/v1/tokens", {{"type", "bogus"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("unknown token type"), std::string::npos);
}

TEST_F(AuthApiTest, MalformedBodyIsAClearError) {
  auto admin = client(host_creds(kHostRoleAdmin));
  auto r = admin.raw("POST", "/v1/users", "{not json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("not valid JSON"), std::string::npos);
  auto bad_role = admin.call("PUT", "/v1/roles", {{"kind", "role"}, {"metadata", {{"name", "x"}}},
                                                  {"spec", {{"allow", {{"db_userz", {"a"}}}}}}});
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.error().message.find("spec.allow.db_userz"), std::string::npos);
}

TEST_F(AuthApiTest, DatabaseAgentIsLimitedToItsOwnWork) {
  auto agent = client(host_creds(kHostRoleDb));
  EXPECT_TRUE(agent.call("GET", "/v1/roles").ok());
  DatabaseServer s;
  s.host_id = "spoofed";
  s.database.name = "pg";
  s.database.protocol = "postgres";
  s.database.uri = "db.local:5432";
  ASSERT_TRUE(agent.call("PUT", "/v1/db_servers", s.to_json()).ok());
  auto servers = auth_->database_servers("pg");
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_EQ((*servers)[0].host_id, "h-Db");  // an agent speaks only for itself
  EXPECT_TRUE(agent.call("POST", "/v1/events", {{"event", "db.session.start"}, {"user", "alice"}}).ok());
  // JSON Lines, as the agent uploads: the host id in each event is the agent's own.
  auto lines = agent.raw("POST", "/v1/events",
                         "{\"event\":\"db.session.query\",\"server_id\":\"spoofed\"}\n"
                         "{\"event\":\"db.session.query\",\"time\":\"2026-01-01T00:00:00Z\",\"uid\":\"u2\","
                         "\"code\":\"TDB02I\"}\n",
                         events::kJsonLinesContentType);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(lines->status, 200) << lines->body;
  auto stored = auth_->search_events({.type = "db.session.query"});
  ASSERT_EQ(stored->size(), 2u);
  for (const auto& e : *stored) EXPECT_EQ(e.value("server_id", ""), "h-Db") << e.dump();
  auto not_json = agent.raw("POST", "/v1/events", "{\"event\":\"db.session.query\"}\n{oops\n",
                            events::kJsonLinesContentType);
  ASSERT_TRUE(not_json.ok());
  EXPECT_EQ(not_json->status, 400);
  EXPECT_NE(not_json->body.find("event 2 of 2: not one JSON object"), std::string::npos) << not_json->body;
  EXPECT_EQ(auth_->search_events({.type = "db.session.query"})->size(), 2u) << "all or nothing";

  auto denied = agent.call("GET", "/v1/users");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kAccessDenied);
  EXPECT_FALSE(agent.call("POST", "/v1/tokens", {{"type", "db"}}).ok());
}

TEST_F(AuthApiTest, UsersGetWhatTheirRolesAllow) {
  auto plain = client(user_creds("bob", {"access"}));
  auto denied = plain.call("GET", "/v1/users");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kAccessDenied);
  EXPECT_TRUE(plain.call("GET", "/v1/cluster").ok());

  auto editor = client(user_creds("erin", {"editor"}));
  EXPECT_TRUE(editor.call("GET", "/v1/users").ok());
  EXPECT_FALSE(editor.call("GET", "/v1/events").ok());

  auto auditor = client(user_creds("aud", {"auditor"}));
  EXPECT_TRUE(auditor.call("GET", "/v1/events").ok());
}

TEST_F(AuthApiTest, EventSearchRefusesABadLimitOrSince) {
  auto agent = client(host_creds(kHostRoleDb));
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(agent.call("POST", "/v1/events", {{"event", "db.session.query"}, {"user", "alice"}}).ok());
  auto auditor = client(user_creds("aud", {"auditor"}));
  auto two = auditor.call("GET", "/v1/events?type=db.session.query&limit=2&since=1h");
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_EQ(two->size(), 2u);
  for (const char* bad :
       {"/v1/events?limit=ten", "/v1/events?limit=-1", "/v1/events?limit=", "/v1/events?since=yesterday"}) {
    auto r = auditor.call("GET", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
    const std::string& m = r.error().message;
    EXPECT_TRUE(m.find("is not a count of events") != std::string::npos ||
                m.find("is not a duration") != std::string::npos)
        << bad << ": " << m;
  }
}

TEST_F(AuthApiTest, ClientWithoutCertificateIsRefused) {
  net::TlsClientConfig tls;
  tls.ca_pems = host_ca_;
  net::HttpsClient anonymous({"127.0.0.1", port_}, tls, std::chrono::seconds(5));
  auto r = anonymous.call("GET", "/v1/cluster");
  EXPECT_FALSE(r.ok());
}

TEST_F(AuthApiTest, CertificateFromAnotherClusterIsRefused) {
  auto other_backend = open_memory_backend(system_clock());
  AuthConfig config;
  config.cluster_name = "other";
  auto other = AuthServer::open(config, std::move(*other_backend), system_clock(), rng_);
  ASSERT_TRUE(other.ok());
  auto key = PrivateKey::generate();
  auto certs = (*other)->issue_host_certs("x", kHostRoleAdmin, key->public_key_pem(), {});
  auto forged = client({certs->cert_pem, key->to_pem()});
  EXPECT_FALSE(forged.call("GET", "/v1/users").ok());
}

TEST_F(AuthApiTest, AKeptAliveClientReusesItsConnectionAndSurvivesTheServerClosingIt) {
  net::HttpsClient agent = client(host_creds(kHostRoleDb));
  agent.keep_alive();
  for (int i = 0; i < 3; ++i) {
    auto r = agent.call("POST", "/v1/events", nlohmann::json::array({{{"event", "db.session.query"}, {"n", i}}}));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_EQ(connections_, 1) << "three calls, one TLS handshake";

  idle_timeout_ = std::chrono::seconds(1);  // applies to the next connection
  auto copy = agent;                        // copies share the connection
  copy.keep_alive();
  ASSERT_TRUE(copy.call("POST", "/v1/events", nlohmann::json::array({{{"event", "db.session.query"}}})).ok());
  EXPECT_EQ(connections_, 1);

  // The server closes idle connections after this one's timeout; the next
  // call notices before anything was answered and sends again on a new one.
  net::HttpsClient fresh = client(host_creds(kHostRoleDb));
  fresh.keep_alive();
  ASSERT_TRUE(fresh.call("GET", "/v1/cluster").ok());
  EXPECT_EQ(connections_, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto again = fresh.call("POST", "/v1/events", nlohmann::json::array({{{"event", "db.session.query"}}}));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(connections_, 3);
  EXPECT_EQ(auth_->search_events({.type = "db.session.query"})->size(), 5u) << "nothing sent twice";
}

}  // namespace
}  // namespace tp
