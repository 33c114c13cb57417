// The PostgreSQL engine end to end in one process: a test client (playing the
// proxy's end of a tunnel stream) speaks the wire protocol to the engine,
// which talks to a fake PostgreSQL server over verify-full TLS.
#include "db/postgres/engine.h"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "common/files.h"
#include "tunnel/dial_line.h"
#include "unit/backend/temp_dir.h"
#include "unit/db/postgres/fake_postgres.h"
#include "unit/tunnel/mux_pair.h"

namespace tp::db {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ClientEnd = testing::BlockingMuxStream;

struct Message {
  char type = 0;
  std::string payload;
};

class PostgresEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db_ca = create_cert_authority(CaType::kDb, "test.cluster", system_clock());
    ASSERT_TRUE(db_ca.ok());
    ASSERT_TRUE(write_file_atomic(dir_.file("db-ca.pem"), db_ca->cert_pem).ok());
    fake_ =
        std::make_unique<testing::FakePostgres>(io_, testing::TestPki::server_cert(*db_ca), "upstream-pw");

    Database db;
    db.name = "pg1";
    db.protocol = "postgres";
    db.uri = "127.0.0.1:" + std::to_string(fake_->port());
    db.static_labels = {{"env", "dev"}};
    db.tls.mode = "verify-full";
    db.tls.ca_cert_file = dir_.file("db-ca.pem");
    auto tls = UpstreamTls::for_database(db);
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    upstream_tls_[db.name] = std::move(*tls);

    roles_ = std::make_unique<RoleCache>([] { return Result<std::vector<Role>>(builtin_roles()); },
                                         system_clock());
    AuditLogOptions audit_options;
    audit_options.spool_dir = dir_.file("spool");
    audit_ = std::make_unique<AuditLog>(
        audit_options,
        [this](const std::vector<std::string>& batch) {
          std::lock_guard lock(mu_);
          for (const auto& e : batch) events_.push_back(nlohmann::json::parse(e));
          return Status{};
        },
        system_clock(), crypto_rng());
    credentials_ =
        make_upstream_credentials(nullptr, [](const std::string& name) -> std::optional<std::string> {
          if (name == "TELEPORT_DB_PASSWORD_PG1") return "upstream-pw";
          return std::nullopt;
        });
    ctx_ = std::make_unique<AgentContext>(
        AgentContext{system_clock(),
                     crypto_rng(),
                     {db},
                     [this] { return std::vector<std::string>{pki_.user_ca.cert_pem}; },
                     *roles_,
                     *audit_,
                     *credentials_,
                     upstream_tls_,
                     sessions_,
                     blocking_});
    engine_ = std::make_unique<PostgresEngine>(*ctx_);

    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    ASSERT_TRUE(tunnel_.connect());
  }

  void TearDown() override {
    // Sessions end before the objects they use go away.
    sessions_.stop_all();
    EXPECT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
    tunnel_.close();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    blocking_.join();
  }

  // A database certificate for alice (db users [alice], db names [app]).
  std::string alice_cert(std::string db_user = "alice", std::string db_name = "app",
                         std::chrono::seconds ttl = std::chrono::hours(1)) {
    Identity id;
    id.username = "alice";
    id.roles = {"access"};
    id.traits = {{"db_users", {"alice"}}, {"db_names", {"app"}}};
    id.route = DatabaseRoute{"pg1", "postgres", db_user, db_name};
    id.expires = system_clock().now() + ttl;
    return pki_.user_cert(id).cert_pem;
  }

  tunnel::DialRequest dial(std::string cert, std::string initial = "") {
    tunnel::DialRequest r;
    r.db_name = "pg1";
    r.protocol = "postgres";
    r.client_cert_pem = std::move(cert);
    r.session_id = "sid-" + std::to_string(++sessions_started_);
    r.initial_data = std::move(initial);
    return r;
  }

  // Opens a tunnel stream for `request` and returns its proxy end; the agent end serves it.
  std::unique_ptr<ClientEnd> open(const tunnel::DialRequest& request) {
    return std::make_unique<ClientEnd>(testing::open_dial(tunnel_, request));
  }

  // The agent end: each stream's dial request goes to the engine, on the stream's loop.
  void serve_stream(std::unique_ptr<tunnel::MuxStream> stream, const std::string& payload) {
    testing::serve_dial(std::move(stream), payload, [this](tunnel::DialRequest r, std::unique_ptr<tunnel::MuxStream> s) {
      return engine_->serve(std::move(r), std::move(s));
    });
  }

  static std::string startup(const std::string& user, const std::string& database) {
    pg::StartupMessage m;
    m.parameters = {{"user", user}, {"database", database}, {"application_name", "engine_test"}};
    return *pg::encode_startup_message(m);
  }

  static void send(ClientEnd& s, const std::string& bytes) { asio::write(s, asio::buffer(bytes)); }

  static Message read_message(ClientEnd& s) {
    char header[5];
    asio::read(s, asio::buffer(header));
    uint32_t len = (uint8_t(header[1]) << 24) | (uint8_t(header[2]) << 16) | (uint8_t(header[3]) << 8) |
                   uint8_t(header[4]);
    Message m{header[0], std::string(len - 4, '\0')};
    if (!m.payload.empty()) asio::read(s, asio::buffer(m.payload));
    return m;
  }

  static std::vector<Message> read_until_ready(ClientEnd& s) {
    std::vector<Message> out;
    while (true) {
      out.push_back(read_message(s));
      if (out.back().type == 'Z' || out.back().type == 'E') return out;
    }
  }

  // Fields of an ErrorResponse payload, by code.
  static std::map<char, std::string> error_fields(const Message& m) {
    std::map<char, std::string> out;
    auto parsed = pg::parse_error_response(m.payload);
    if (parsed.ok())
      for (const auto& [k, v] : parsed->fields) out[k] = std::string(v);
    return out;
  }

  bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return condition();
  }

  std::vector<nlohmann::json> events_of(const std::string& type) {
    audit_->upload_pending();
    std::lock_guard lock(mu_);
    std::vector<nlohmann::json> out;
    for (const auto& e : events_)
      if (e["event"] == type) out.push_back(e);
    return out;
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
  std::unique_ptr<testing::FakePostgres> fake_;
  UpstreamTlsMap upstream_tls_;
  std::unique_ptr<RoleCache> roles_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<UpstreamCredentials> credentials_;
  SessionTracker sessions_;
  asio::thread_pool blocking_{2};
  std::unique_ptr<AgentContext> ctx_;
  std::unique_ptr<PostgresEngine> engine_;
  testing::MuxPair tunnel_{io_, pki_, [this](std::unique_ptr<tunnel::MuxStream> stream, std::string payload) {
                             serve_stream(std::move(stream), payload);
                           }};
  std::mutex mu_;
  std::vector<nlohmann::json> events_;
  int sessions_started_ = 0;
};

TEST_F(PostgresEngineTest, AnAllowedUserRunsQueriesAndEverythingIsAudited) {
  // The proxy already read the StartupMessage: it arrives as initial data.
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  auto hello = read_until_ready(*client);
  ASSERT_EQ(hello.front().type, 'R') << "AuthenticationOk first";
  std::map<std::string, std::string> params;
  std::optional<std::pair<int32_t, int32_t>> key;
  for (const auto& m : hello) {
    if (m.type == 'S') {
      auto p = pg::parse_parameter_status(m.payload);
      params[std::string(p->name)] = std::string(p->value);
    }
    if (m.type == 'K') {
      auto k = pg::parse_backend_key_data(m.payload);
      key = {k->process_id, k->secret_key};
    }
  }
  EXPECT_EQ(params["server_version"], "15.0");
  ASSERT_TRUE(key.has_value());
  EXPECT_NE(*key, std::make_pair(testing::FakePostgres::kPid, testing::FakePostgres::kSecret))
      << "the client never sees the server's cancel key";
  ASSERT_EQ(fake_->startups().size(), 1u);
  EXPECT_EQ(fake_->startups()[0].user, "alice");
  EXPECT_EQ(fake_->startups()[0].database, "app");
  EXPECT_EQ(fake_->startups()[0].application_name, "engine_test") << "client parameters pass through";

  send(*client, pg::encode_query("select 1"));
  auto result = read_until_ready(*client);
  ASSERT_EQ(result.size(), 3u);
  EXPECT_EQ(result[0].type, 'D');
  EXPECT_EQ(result[2].type, 'Z');

  send(*client, pg::encode_parse("s1", "select $1::int") + pg::encode_bind("", "s1", {std::string("42")}) +
                    pg::encode_execute("") + pg::encode_sync());
  auto extended = read_until_ready(*client);
  EXPECT_EQ(extended.back().type, 'Z');

  send(*client, pg::encode_terminate());
  ASSERT_TRUE(wait_for([&] { return sessions_.active() == 0; }));

  auto starts = events_of("db.session.start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0]["success"], true);
  EXPECT_EQ(starts[0]["user"], "alice");
  EXPECT_EQ(starts[0]["db_user"], "alice");
  EXPECT_EQ(starts[0]["db_name"], "app");
  EXPECT_EQ(starts[0]["db_service"], "pg1");
  auto queries = events_of("db.session.query");
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0]["db_query"], "select 1");
  EXPECT_EQ(queries[1]["db_query"], "select $1::int");
  EXPECT_EQ(queries[1]["db_query_parameters"], nlohmann::json::array({"42"}));
  auto ends = events_of("db.session.end");
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0]["sid"], starts[0]["sid"]);
}

// The relay's two directions stop each other by cancelling the sockets (net/relay_ops.h): each test
// below hangs, and fails at its bound, when the direction that ends does not stop the other.
TEST_F(PostgresEngineTest, AClientThatVanishesEndsTheSessionWhileTheServerIsQuiet) {
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  ASSERT_EQ(read_until_ready(*client).back().type, 'Z');
  client->close();  // no Terminate: the proxy's end of the stream is gone
  EXPECT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
  EXPECT_TRUE(wait_for([&] { return fake_->open_sessions() == 0; })) << "the upstream connection is closed";
  EXPECT_EQ(events_of("db.session.end").size(), 1u);
}

TEST_F(PostgresEngineTest, AServerThatHangsUpEndsTheSessionWhileTheClientIsQuiet) {
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  ASSERT_EQ(read_until_ready(*client).back().type, 'Z');
  send(*client, pg::encode_query("terminate"));
  auto last = read_message(*client);
  ASSERT_EQ(last.type, 'E');
  EXPECT_EQ(error_fields(last)['C'], pg::sqlstate::kAdminShutdown)
      << "the server's last words reach the client";
  // The client sends nothing more; the agent ends the session and closes the client's connection.
  EXPECT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
  EXPECT_EQ(events_of("db.session.end").size(), 1u);
  char byte;
  boost::system::error_code ec;
  client->read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "the agent closed the client's connection";
}

TEST_F(PostgresEngineTest, SslRequestInsideTheTunnelIsAnsweredNo) {
  auto client = open(dial(alice_cert()));
  send(*client, pg::encode_ssl_request());
  char answer = 0;
  asio::read(*client, asio::buffer(&answer, 1));
  EXPECT_EQ(answer, 'N');
  send(*client, pg::encode_gssenc_request());
  asio::read(*client, asio::buffer(&answer, 1));
  EXPECT_EQ(answer, 'N');
  send(*client, startup("alice", "app"));
  EXPECT_EQ(read_until_ready(*client).back().type, 'Z');
}

TEST_F(PostgresEngineTest, RbacDenialIs28000AndAFailedStartEvent) {
  // The certificate routes to db user "postgres", which alice's traits do not allow.
  auto client = open(dial(alice_cert("postgres"), startup("postgres", "app")));
  auto reply = read_message(*client);
  ASSERT_EQ(reply.type, 'E');
  auto fields = error_fields(reply);
  EXPECT_EQ(fields['S'], "FATAL");
  EXPECT_EQ(fields['C'], "28000");
  EXPECT_NE(fields['M'].find("postgres"), std::string::npos) << fields['M'];
  ASSERT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
  EXPECT_TRUE(fake_->startups().empty()) << "never reaches the database";
  auto starts = events_of("db.session.start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0]["success"], false);
  EXPECT_EQ(starts[0]["code"], "TDB00W");
  EXPECT_EQ(starts[0]["db_user"], "postgres");
}

TEST_F(PostgresEngineTest, AStartupThatDoesNotMatchTheRouteIsRefused) {
  auto client = open(dial(alice_cert(), startup("alice", "postgres")));
  auto reply = read_message(*client);
  ASSERT_EQ(reply.type, 'E');
  EXPECT_EQ(error_fields(reply)['C'], "28000");
  EXPECT_NE(error_fields(reply)['M'].find("database name \"app\""), std::string::npos);
}

TEST_F(PostgresEngineTest, ACertificateFromAnotherCaIsRefused) {
  testing::TestPki other;
  Identity id;
  id.username = "mallory";
  id.roles = {"access"};
  id.route = DatabaseRoute{"pg1", "postgres", "alice", "app"};
  id.expires = system_clock().now() + std::chrono::hours(1);
  auto client = open(dial(other.user_cert(id).cert_pem, startup("alice", "app")));
  auto reply = read_message(*client);
  ASSERT_EQ(reply.type, 'E');
  EXPECT_EQ(error_fields(reply)['C'], "28000");
}

TEST_F(PostgresEngineTest, TheServersLoginErrorReachesTheClientVerbatim) {
  credentials_ = make_upstream_credentials(
      nullptr, [](const std::string&) -> std::optional<std::string> { return "wrong-password"; });
  ctx_ = std::make_unique<AgentContext>(AgentContext{system_clock(), crypto_rng(), ctx_->databases,
                                                     ctx_->user_cas, *roles_, *audit_, *credentials_,
                                                     upstream_tls_, sessions_, blocking_});
  engine_ = std::make_unique<PostgresEngine>(*ctx_);
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  auto reply = read_message(*client);
  ASSERT_EQ(reply.type, 'E');
  EXPECT_EQ(error_fields(reply)['C'], "28P01");
  EXPECT_EQ(error_fields(reply)['M'], "password authentication failed for user");
  ASSERT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
  auto starts = events_of("db.session.start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0]["success"], false);
}

TEST_F(PostgresEngineTest, ACancelRequestReachesTheRightBackend) {
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  std::pair<int32_t, int32_t> key;
  for (const auto& m : read_until_ready(*client))
    if (m.type == 'K')
      key = {pg::parse_backend_key_data(m.payload)->process_id,
             pg::parse_backend_key_data(m.payload)->secret_key};
  send(*client, pg::encode_query("sleep"));
  std::this_thread::sleep_for(100ms);

  tunnel::DialRequest cancel;
  cancel.kind = tunnel::kDialPostgresCancel;
  cancel.cancel_process_id = static_cast<uint32_t>(key.first);
  cancel.cancel_secret_key = static_cast<uint32_t>(key.second + 1);
  EXPECT_EQ(engine_->accept_dial(cancel).error().code, ErrorCode::kNotFound) << "a wrong secret is not ours";
  cancel.cancel_secret_key = static_cast<uint32_t>(key.second);
  ASSERT_TRUE(engine_->accept_dial(cancel).ok());
  auto start = std::chrono::steady_clock::now();
  auto cancel_link = open(cancel);

  auto result = read_until_ready(*client);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_EQ(result.back().type, 'E');
  EXPECT_EQ(error_fields(result.back())['C'], "57014");
  auto cancels = fake_->cancels();
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0], std::make_pair(testing::FakePostgres::kPid, testing::FakePostgres::kSecret));
}

TEST_F(PostgresEngineTest, ACancelRequestWithTheUsersCertificateWorksToo) {
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  pg::CancelRequest request;
  for (const auto& m : read_until_ready(*client))
    if (m.type == 'K')
      request = {pg::parse_backend_key_data(m.payload)->process_id,
                 pg::parse_backend_key_data(m.payload)->secret_key};
  send(*client, pg::encode_query("sleep"));
  std::this_thread::sleep_for(100ms);
  auto link = open(dial(alice_cert(), pg::encode_cancel_request(request)));
  auto result = read_until_ready(*client);
  ASSERT_EQ(result.back().type, 'E');
  EXPECT_EQ(error_fields(result.back())['C'], "57014");
}

TEST_F(PostgresEngineTest, ALargeResultStreamsThrough) {
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  read_until_ready(*client);
  send(*client, pg::encode_query("big 5000"));
  size_t rows = 0;
  while (true) {
    auto m = read_message(*client);
    if (m.type == 'D') ++rows;
    if (m.type == 'Z') break;
  }
  EXPECT_EQ(rows, 5000u);
}

TEST_F(PostgresEngineTest, AnExpiringCertificateEndsTheSessionAndSaysToLogInAgain) {
  auto client = open(dial(alice_cert("alice", "app", 2s), startup("alice", "app")));
  EXPECT_EQ(read_until_ready(*client).back().type, 'Z');
  send(*client, pg::encode_query("select 1"));
  EXPECT_EQ(read_until_ready(*client).back().type, 'Z') << "valid for now";
  auto start = std::chrono::steady_clock::now();
  auto reply = read_message(*client);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  ASSERT_EQ(reply.type, 'E');
  auto fields = error_fields(reply);
  EXPECT_EQ(fields['S'], "FATAL");
  EXPECT_NE(fields['M'].find("log in again"), std::string::npos) << fields['M'];
  ASSERT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
  EXPECT_EQ(events_of("db.session.end").size(), 1u);
  EXPECT_TRUE(wait_for([&] { return fake_->open_sessions() == 0; })) << "the upstream connection is closed";
}

TEST_F(PostgresEngineTest, ShutdownEndsRunningSessionsWithAdminShutdown) {
  auto client = open(dial(alice_cert(), startup("alice", "app")));
  EXPECT_EQ(read_until_ready(*client).back().type, 'Z');
  ASSERT_EQ(sessions_.active(), 1u);
  sessions_.stop_all();
  auto reply = read_message(*client);
  ASSERT_EQ(reply.type, 'E');
  EXPECT_EQ(error_fields(reply)['C'], "57P01");
  ASSERT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
  EXPECT_EQ(events_of("db.session.end").size(), 1u);
}

}  // namespace
}  // namespace tp::db
