// The MySQL engine end to end in one process: a test client (playing the proxy's end of a tunnel
// stream) speaks the MySQL protocol to the engine, which talks to a fake MySQL server over
// verify-full TLS.
#include "db/mysql/engine.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "common/files.h"
#include "db/mysql/client_handshake.h"
#include "protocol/mysql/response_tracker.h"
#include "tunnel/dial_line.h"
#include "unit/backend/temp_dir.h"
#include "unit/db_mysql/fake_mysql.h"
#include "unit/tunnel/mux_pair.h"

namespace tp::db {
namespace {

namespace asio = boost::asio;
namespace m = tp::mysql;
using namespace std::chrono_literals;
using ClientEnd = testing::BlockingMuxStream;

struct Wire {
  uint8_t seq = 0;
  std::string payload;
};

class MysqlEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db_ca = create_cert_authority(CaType::kDb, "test.cluster", system_clock());
    ASSERT_TRUE(db_ca.ok());
    ASSERT_TRUE(write_file_atomic(dir_.file("db-ca.pem"), db_ca->cert_pem).ok());
    fake_ = std::make_unique<testing::FakeMysql>(io_, testing::TestPki::server_cert(*db_ca), "upstream-pw");

    Database db;
    db.name = "my1";
    db.protocol = "mysql";
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
          if (name == "TELEPORT_DB_PASSWORD_MY1") return "upstream-pw";
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
    engine_ = std::make_unique<MysqlEngine>(*ctx_);

    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    ASSERT_TRUE(tunnel_.connect());
  }

  void TearDown() override {
    sessions_.stop_all();
    EXPECT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
    tunnel_.close();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    blocking_.join();
  }

  // A database certificate for alice (traits: db users [alice, iam_alice], db names [app]).
  std::string alice_cert(std::string db_user = "alice", std::string db_name = "",
                         std::chrono::seconds ttl = std::chrono::hours(1)) {
    Identity id;
    id.username = "alice";
    id.roles = {"access"};
    id.traits = {{"db_users", {"alice", "iam_alice"}}, {"db_names", {"app"}}};
    id.route = DatabaseRoute{"my1", "mysql", db_user, db_name};
    id.expires = system_clock().now() + ttl;
    return pki_.user_cert(id).cert_pem;
  }

  tunnel::DialRequest dial(std::string cert, std::string initial = "") {
    tunnel::DialRequest r;
    r.db_name = "my1";
    r.protocol = "mysql";
    r.client_cert_pem = std::move(cert);
    r.client_addr = "127.0.0.1:5555";
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

  static m::HandshakeResponse41 response(const std::string& user, const std::string& database) {
    m::HandshakeResponse41 r;
    r.capabilities = kAgentGreetingCapabilities;
    r.max_packet_size = 1 << 24;
    r.username = user;
    r.database = database;
    r.auth_plugin_name = "mysql_native_password";
    r.connect_attributes = {{"program_name", "engine_test"}};
    return r;
  }

  static void send(ClientEnd& s, const std::string& bytes) { asio::write(s, asio::buffer(bytes)); }
  static void send_command(ClientEnd& s, const std::string& payload) {
    send(s, m::encode_packet(payload, 0));
  }

  static Wire read_packet(ClientEnd& s) {
    unsigned char header[4];
    asio::read(s, asio::buffer(header));
    Wire w;
    w.seq = header[3];
    w.payload.resize(header[0] | (header[1] << 8) | (header[2] << 16));
    if (!w.payload.empty()) asio::read(s, asio::buffer(w.payload));
    return w;
  }

  // TLS routing: the engine greets; answer as `user` asking for `database`; returns the answer.
  Wire login(ClientEnd& s, const std::string& user, const std::string& database,
             m::HandshakeV10* greeting = nullptr) {
    Wire g = read_packet(s);
    EXPECT_EQ(g.seq, 0);
    auto parsed = m::parse_handshake_v10(g.payload);
    EXPECT_TRUE(parsed.ok());
    if (greeting && parsed.ok()) *greeting = *parsed;
    send(s, m::encode_packet(*m::encode_handshake_response41(response(user, database)), 1));
    return read_packet(s);
  }

  // Reads a whole response with the codec's tracker; returns its packets.
  static std::vector<Wire> read_response(ClientEnd& s, m::CommandType command,
                                         m::ResponseSummary* summary = nullptr) {
    m::ResponseTracker tracker(kAgentGreetingCapabilities);
    EXPECT_TRUE(tracker.begin(m::response_shape(command)).ok());
    std::vector<Wire> out;
    while (true) {
      out.push_back(read_packet(s));
      auto event = tracker.on_packet(out.back().payload);
      EXPECT_TRUE(event.ok()) << (event.ok() ? "" : event.error().message);
      if (!event.ok()) return out;
      if (event->complete) {
        if (summary) *summary = *event->complete;
        return out;
      }
    }
  }

  static m::ErrPacket parse_err(const Wire& w) {
    auto err = m::parse_err_packet(w.payload, kAgentGreetingCapabilities);
    EXPECT_TRUE(err.ok()) << "not an ERR_Packet: " << to_hex(w.payload.substr(0, 16));
    return err.ok() ? *err : m::ErrPacket{};
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
  std::unique_ptr<testing::FakeMysql> fake_;
  UpstreamTlsMap upstream_tls_;
  std::unique_ptr<RoleCache> roles_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<UpstreamCredentials> credentials_;
  SessionTracker sessions_;
  asio::thread_pool blocking_{2};
  std::unique_ptr<AgentContext> ctx_;
  std::unique_ptr<MysqlEngine> engine_;
  testing::MuxPair tunnel_{io_, pki_, [this](std::unique_ptr<tunnel::MuxStream> stream, std::string payload) {
                             serve_stream(std::move(stream), payload);
                           }};
  std::mutex mu_;
  std::vector<nlohmann::json> events_;
  int sessions_started_ = 0;
};

TEST_F(MysqlEngineTest, TlsRoutedSessionRunsQueriesAndIsAudited) {
  auto client = open(dial(alice_cert("alice", "app")));
  m::HandshakeV10 greeting;
  Wire ok = login(*client, "alice", "app", &greeting);
  EXPECT_EQ(greeting.server_version, "8.0.36-Teleport");
  EXPECT_FALSE(greeting.capabilities & m::CLIENT_SSL);
  EXPECT_EQ(greeting.connection_id & 0xF0000000u, 0xF0000000u);
  ASSERT_TRUE(m::is_ok_packet(ok.payload)) << to_hex(ok.payload);
  EXPECT_EQ(ok.seq, 2);

  send_command(*client, "\x03select 'hello'");
  m::ResponseSummary summary;
  auto packets = read_response(*client, m::CommandType::kQuery, &summary);
  EXPECT_TRUE(summary.ok);
  EXPECT_EQ(summary.rows, 1u);
  send_command(*client, "\x01");  // COM_QUIT
  EXPECT_TRUE(wait_for([&] { return !events_of("db.session.end").empty(); }));

  ASSERT_EQ(fake_->logins().size(), 1u);
  EXPECT_EQ(fake_->logins()[0].user, "alice");
  EXPECT_EQ(fake_->logins()[0].database, "app");
  EXPECT_TRUE(fake_->logins()[0].capabilities & m::CLIENT_DEPRECATE_EOF) << "the client's layout, upstream";
  EXPECT_EQ(fake_->commands(), (std::vector<std::string>{"COM_QUERY select 'hello'", "COM_QUIT"}));

  auto starts = events_of("db.session.start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0]["success"], true);
  EXPECT_EQ(starts[0]["user"], "alice");
  EXPECT_EQ(starts[0]["db_protocol"], "mysql");
  EXPECT_EQ(starts[0]["db_user"], "alice");
  EXPECT_EQ(starts[0]["db_name"], "app");
  EXPECT_EQ(starts[0]["sid"], "sid-1");
  auto queries = events_of("db.session.query");
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(queries[0]["db_query"], "select 'hello'");
  EXPECT_EQ(queries[0]["sid"], "sid-1");
  EXPECT_EQ(events_of("db.session.end")[0]["sid"], "sid-1");
}

// The relay's two directions stop each other by cancelling the sockets (net/relay_ops.h): each test
// below hangs, and fails at its bound, when the direction that ends does not stop the other.
TEST_F(MysqlEngineTest, AClientThatVanishesEndsTheSessionWhileTheServerIsQuiet) {
  auto client = open(dial(alice_cert("alice", "app")));
  ASSERT_TRUE(m::is_ok_packet(login(*client, "alice", "app").payload));
  client->close();  // no COM_QUIT: the proxy's end of the stream is gone
  EXPECT_TRUE(wait_for([&] { return !events_of("db.session.end").empty(); }));
  EXPECT_TRUE(wait_for([&] { return fake_->open_sessions() == 0; })) << "the upstream connection is closed";
}

TEST_F(MysqlEngineTest, AServerThatHangsUpEndsTheSessionWhileTheClientIsQuiet) {
  auto client = open(dial(alice_cert("alice", "app")));
  ASSERT_TRUE(m::is_ok_packet(login(*client, "alice", "app").payload));
  send_command(*client, "\x03hang up");
  EXPECT_EQ(parse_err(read_packet(*client)).error_code, 1927) << "the server's last words reach the client";
  // The client sends nothing more; the agent ends the session and closes the client's connection.
  EXPECT_TRUE(wait_for([&] { return !events_of("db.session.end").empty(); }));
  char byte;
  boost::system::error_code ec;
  client->read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "the agent closed the client's connection";
}

TEST_F(MysqlEngineTest, NativeHandoffAnswersWithTheNextSequenceId) {
  m::HandshakeV10 g;
  g.server_version = "10.11.6-MariaDB";
  g.connection_id = 0xF0000005;
  g.auth_plugin_data = "abcdefghijklmnopqrst";
  g.capabilities = kAgentGreetingCapabilities | m::CLIENT_SSL;
  g.auth_plugin_name = "mysql_native_password";
  auto r = response("alice", "");
  r.capabilities |= m::CLIENT_SSL;
  std::string handoff = m::encode_packet(*m::encode_handshake_v10(g), 0) +
                        m::encode_packet(*m::encode_handshake_response41(r), 2);
  auto client = open(dial(alice_cert(), handoff));
  Wire ok = read_packet(*client);  // no greeting from the engine: the proxy sent it
  ASSERT_TRUE(m::is_ok_packet(ok.payload)) << to_hex(ok.payload);
  EXPECT_EQ(ok.seq, 3);
  send_command(*client, "\x0e");  // COM_PING
  EXPECT_TRUE(m::is_ok_packet(read_packet(*client).payload));
  EXPECT_EQ(fake_->logins()[0].database, "") << "MySQL sessions may start without a database";
}

TEST_F(MysqlEngineTest, RefusalsAreErrPacketsAndFailedStartEvents) {
  struct Case {
    const char* name;
    std::string cert;
    std::string user, database;
    uint16_t code;
    const char* says;
  };
  Case cases[] = {
      {"another db user", alice_cert("alice"), "root", "", 1045, "\"root\""},
      {"db name the roles deny", alice_cert("alice"), "alice", "secret", 1045, "secret"},
      {"db user the roles deny", alice_cert("bob"), "bob", "", 1045, "bob"},
      {"no certificate", "", "alice", "", 1045, "tsh db login my1"},
  };
  for (const auto& c : cases) {
    auto client = open(dial(c.cert));
    Wire answer = login(*client, c.user, c.database);
    EXPECT_EQ(answer.seq, 2) << c.name;
    auto err = parse_err(answer);
    EXPECT_EQ(err.error_code, c.code) << c.name;
    EXPECT_EQ(err.sql_state, "28000") << c.name;
    EXPECT_NE(err.message.find(c.says), std::string::npos) << c.name << ": " << err.message;
  }
  auto starts = events_of("db.session.start");
  ASSERT_EQ(starts.size(), std::size(cases));
  for (const auto& e : starts) {
    EXPECT_EQ(e["success"], false);
    EXPECT_FALSE(e["error"].get<std::string>().empty());
  }
  EXPECT_TRUE(fake_->logins().empty()) << "no refused session reaches the server";
}

TEST_F(MysqlEngineTest, AClientThatHangsUpAtTheGreetingIsNotASession) {
  {
    auto client = open(dial(alice_cert()));
    read_packet(*client);  // the greeting; then the client (a port probe) goes away
  }
  EXPECT_TRUE(wait_for([&] { return sessions_.active() == 0; }));
  EXPECT_TRUE(events_of("db.session.start").empty());
  EXPECT_TRUE(fake_->logins().empty());
}

TEST_F(MysqlEngineTest, UpstreamRefusalReachesTheClientWithTheServersCode) {
  auto wrong = make_upstream_credentials(
      nullptr, [](const std::string&) -> std::optional<std::string> { return "wrong"; });
  AgentContext ctx{system_clock(), crypto_rng(), ctx_->databases, ctx_->user_cas, *roles_,
                   *audit_,        *wrong,       upstream_tls_,   sessions_,      blocking_};
  engine_ = std::make_unique<MysqlEngine>(ctx);
  auto client = open(dial(alice_cert()));
  auto err = parse_err(login(*client, "alice", ""));
  EXPECT_EQ(err.error_code, 1045);
  EXPECT_EQ(err.sql_state, "28000");
  EXPECT_NE(err.message.find("Access denied for user 'alice'"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("my1"), std::string::npos) << err.message;
  EXPECT_TRUE(wait_for([&] { return sessions_.active() == 0; }));  // before `ctx` goes away
  auto starts = events_of("db.session.start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0]["success"], false);
}

TEST_F(MysqlEngineTest, UpstreamCertificateFromAnotherCaIsRefused) {
  auto other_ca = create_cert_authority(CaType::kDb, "other.cluster", system_clock());
  ASSERT_TRUE(other_ca.ok());
  ASSERT_TRUE(write_file_atomic(dir_.file("other-ca.pem"), other_ca->cert_pem).ok());
  Database db = ctx_->databases[0];
  db.tls.ca_cert_file = dir_.file("other-ca.pem");
  UpstreamTlsMap tls;
  tls[db.name] = std::move(*UpstreamTls::for_database(db));
  AgentContext ctx{system_clock(), crypto_rng(),  {db}, ctx_->user_cas, *roles_,
                   *audit_,        *credentials_, tls,  sessions_,      blocking_};
  engine_ = std::make_unique<MysqlEngine>(ctx);
  auto client = open(dial(alice_cert()));
  auto err = parse_err(login(*client, "alice", ""));
  EXPECT_EQ(err.error_code, 1105);
  EXPECT_EQ(err.sql_state, "08S01");
  EXPECT_NE(err.message.find("TLS with database \"my1\""), std::string::npos) << err.message;
  EXPECT_TRUE(wait_for([&] { return sessions_.active() == 0; }));  // before `ctx` goes away
  EXPECT_TRUE(fake_->logins().empty());
}

TEST_F(MysqlEngineTest, ClearPasswordLoginForIamStyleUsers) {
  auto client = open(dial(alice_cert("iam_alice")));
  Wire ok = login(*client, "iam_alice", "");
  ASSERT_TRUE(m::is_ok_packet(ok.payload)) << to_hex(ok.payload);
  ASSERT_EQ(fake_->logins().size(), 1u);
  EXPECT_EQ(fake_->logins()[0].user, "iam_alice");
}

TEST_F(MysqlEngineTest, InitDbToADeniedDatabaseAndChangeUserAreRefusedInPlace) {
  auto client = open(dial(alice_cert()));
  ASSERT_TRUE(m::is_ok_packet(login(*client, "alice", "").payload));

  send_command(*client, "\x02secret");
  Wire denied = read_packet(*client);
  EXPECT_EQ(denied.seq, 1);
  auto err = parse_err(denied);
  EXPECT_EQ(err.error_code, 1044);
  EXPECT_NE(err.message.find("secret"), std::string::npos) << err.message;

  send_command(*client, std::string("\x11root\0\0", 7));
  err = parse_err(read_packet(*client));
  EXPECT_EQ(err.error_code, 1045);
  EXPECT_NE(err.message.find("COM_CHANGE_USER"), std::string::npos);

  send_command(*client,
               "\x02"
               "app");  // allowed: forwarded, and the session's database follows
  EXPECT_TRUE(m::is_ok_packet(read_packet(*client).payload));
  send_command(*client, "\x03select database()");
  read_response(*client, m::CommandType::kQuery);
  EXPECT_EQ(fake_->commands(), (std::vector<std::string>{"COM_INIT_DB app", "COM_QUERY select database()"}));
  auto queries = events_of("db.session.query");
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0]["db_query"], "USE `app`");
  EXPECT_EQ(queries[1]["db_name"], "app");
}

TEST_F(MysqlEngineTest, PreparedStatementsAreAuditedWithTheirParameters) {
  auto client = open(dial(alice_cert()));
  ASSERT_TRUE(m::is_ok_packet(login(*client, "alice", "").payload));
  send_command(*client, "\x16select ?");
  m::ResponseSummary prepared;
  read_response(*client, m::CommandType::kStmtPrepare, &prepared);
  ASSERT_TRUE(prepared.prepare_ok.has_value());
  std::string execute = "\x17";
  m::put_u32(execute, prepared.prepare_ok->statement_id);
  execute += std::string("\x00\x01\x00\x00\x00\x00\x01", 7);  // no cursor, 1 iteration, no NULLs, types bound
  m::put_u16(execute, m::MYSQL_TYPE_LONG);
  m::put_u32(execute, 42);
  send_command(*client, execute);
  EXPECT_TRUE(m::is_ok_packet(read_packet(*client).payload));
  auto queries = events_of("db.session.query");
  ASSERT_EQ(queries.size(), 1u) << "the prepare itself runs nothing";
  EXPECT_EQ(queries[0]["db_query"], "select ?");
  EXPECT_EQ(queries[0]["db_query_parameters"], nlohmann::json::array({"42"}));
}

TEST_F(MysqlEngineTest, LargeResultStreamsThrough) {
  auto client = open(dial(alice_cert()));
  ASSERT_TRUE(m::is_ok_packet(login(*client, "alice", "").payload));
  send_command(*client,
               "\x03"
               "big 20000");  // 20 MB
  m::ResponseSummary summary;
  read_response(*client, m::CommandType::kQuery, &summary);
  EXPECT_TRUE(summary.ok);
  EXPECT_EQ(summary.rows, 20000u);
  send_command(*client,
               "\x03"
               "fail");
  read_response(*client, m::CommandType::kQuery, &summary);
  EXPECT_FALSE(summary.ok);
  EXPECT_EQ(summary.error->error_code, 1064);
}

TEST_F(MysqlEngineTest, CertificateExpiryEndsTheSessionWithAnErr) {
  auto client = open(dial(alice_cert("alice", "", 2s)));
  ASSERT_TRUE(m::is_ok_packet(login(*client, "alice", "").payload));
  Wire last = read_packet(*client);  // arrives by itself once the certificate expires
  auto err = parse_err(last);
  EXPECT_EQ(err.error_code, 1045);
  EXPECT_NE(err.message.find("expired"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("tsh db login my1"), std::string::npos) << err.message;
  EXPECT_TRUE(wait_for([&] { return !events_of("db.session.end").empty(); }));
  EXPECT_TRUE(wait_for([&] { return fake_->open_sessions() == 0; }));
}

}  // namespace
}  // namespace tp::db
