// The proxy's native MySQL front end against a synchronous client, and its handoff read back by
// the agent's side (db/mysql/client_handshake.h): the two ends of one format.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <thread>

#include "db/mysql/client_handshake.h"
#include "net/tls.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "proxy/mysql_frontend.h"
#include "unit/tunnel/test_pki.h"

namespace tp::proxy {
namespace {

namespace asio = boost::asio;
namespace m = tp::mysql;
using namespace std::chrono_literals;

struct Wire {
  uint8_t seq = 0;
  std::string payload;
};

template <class Stream>
Wire read_packet(Stream& s) {
  unsigned char header[4];
  asio::read(s, asio::buffer(header));
  Wire w;
  w.seq = header[3];
  w.payload.resize(header[0] | (header[1] << 8) | (header[2] << 16));
  if (!w.payload.empty()) asio::read(s, asio::buffer(w.payload));
  return w;
}

class MysqlFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto proxy = pki_.host_cert("proxy", kHostRoleProxy);
    auto server =
        net::make_server_context({proxy.cert_pem, proxy.key_pem, {pki_.user_ca.cert_pem}, false, {}});
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ctx_ = std::make_unique<asio::ssl::context>(std::move(*server));
    acceptor_ =
        std::make_unique<net::tcp::acceptor>(io_, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Accepts one connection and serves it; the route callback reports the login and answers OK.
  std::future<MysqlClientLogin> serve_one(std::string server_version = "") {
    auto promise = std::make_shared<std::promise<MysqlClientLogin>>();
    auto future = promise->get_future();
    asio::co_spawn(
        io_,
        [this, promise, server_version]() -> asio::awaitable<void> {
          auto socket = co_await acceptor_->async_accept(asio::use_awaitable);
          MysqlFrontendOptions options;
          options.server_version = server_version;
          options.verify_peer = [this](SSL* ssl) {
            return verify_peer_cert(net::peer_cert_pem(ssl), {pki_.user_ca.cert_pem}, {},
                                    system_clock().now());
          };
          MysqlRoute route = [promise](net::TlsStream& client,
                                       MysqlClientLogin login) -> asio::awaitable<void> {
            std::string ok =
                m::encode_packet(m::encode_ok_packet({}, login.capabilities), login.next_sequence_id);
            promise->set_value(std::move(login));
            co_await asio::async_write(client, asio::buffer(ok), asio::use_awaitable);
          };
          co_await serve_mysql_client(std::move(socket), *server_ctx_, options, std::move(route));
        },
        asio::detached);
    return future;
  }

  net::tcp::socket connect() {
    net::tcp::socket s(client_io_);
    s.connect(acceptor_->local_endpoint());
    return s;
  }

  std::unique_ptr<asio::ssl::context> client_context(bool with_cert) {
    net::TlsClientConfig config;
    config.insecure_skip_verify = true;
    if (with_cert) {
      Identity id;
      id.username = "alice";
      id.roles = {"access"};
      id.route = DatabaseRoute{"my1", "mysql", "alice", "app"};
      id.expires = system_clock().now() + std::chrono::hours(1);
      auto cert = pki_.user_cert(id);
      config.cert_pem = cert.cert_pem;
      config.key_pem = cert.key_pem;
    }
    auto ctx = net::make_client_context(config);
    EXPECT_TRUE(ctx.ok());
    return std::make_unique<asio::ssl::context>(std::move(*ctx));
  }

  static std::string response_packet(uint8_t seq) {
    m::HandshakeResponse41 r;
    r.capabilities = db::kAgentGreetingCapabilities | m::CLIENT_SSL;
    r.max_packet_size = 1 << 24;
    r.username = "alice";
    r.database = "app";
    r.auth_plugin_name = "mysql_native_password";
    return m::encode_packet(*m::encode_handshake_response41(r), seq);
  }

  static std::string ssl_request() {
    return m::encode_packet(
        m::encode_ssl_request({db::kAgentGreetingCapabilities | m::CLIENT_SSL, 1 << 24, 45}), 1);
  }

  testing::TestPki pki_;
  asio::io_context io_, client_io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::thread thread_;
  std::unique_ptr<asio::ssl::context> server_ctx_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
};

TEST_F(MysqlFrontendTest, TlsClientIsRoutedWithAHandoffTheAgentReads) {
  auto login = serve_one("10.11.6-MariaDB");
  auto socket = connect();
  Wire greeting = read_packet(socket);
  auto g = m::parse_handshake_v10(greeting.payload);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->server_version, "10.11.6-MariaDB");
  EXPECT_TRUE(g->capabilities & m::CLIENT_SSL);
  asio::write(socket, asio::buffer(ssl_request()));
  auto ctx = client_context(true);
  asio::ssl::stream<net::tcp::socket&> tls(socket, *ctx);
  tls.handshake(asio::ssl::stream_base::client);
  asio::write(tls, asio::buffer(response_packet(2)));

  ASSERT_EQ(login.wait_for(5s), std::future_status::ready);
  MysqlClientLogin l = login.get();
  EXPECT_TRUE(l.peer.identity.has_value());
  EXPECT_EQ(l.username, "alice");
  EXPECT_EQ(l.database, "app");
  EXPECT_EQ(l.next_sequence_id, 3);
  Wire ok = read_packet(tls);
  EXPECT_EQ(ok.seq, 3);
  EXPECT_TRUE(m::is_ok_packet(ok.payload));

  // The agent reads the same facts back from the handoff.
  auto hello = db::parse_native_handoff(l.handoff);
  ASSERT_TRUE(hello.ok()) << hello.error().message;
  EXPECT_EQ(hello->response.username, "alice");
  EXPECT_EQ(hello->response.database, "app");
  EXPECT_EQ(hello->next_sequence_id, 3);
  EXPECT_EQ(hello->capabilities, l.capabilities);
  EXPECT_EQ(hello->server_version, "10.11.6-MariaDB");
}

TEST_F(MysqlFrontendTest, ClientWithoutTlsIsToldWhatToRun) {
  auto login = serve_one();
  auto socket = connect();
  read_packet(socket);
  asio::write(socket, asio::buffer(response_packet(1)));
  Wire answer = read_packet(socket);
  EXPECT_EQ(answer.seq, 2);
  auto err = m::parse_err_packet(answer.payload, m::CLIENT_PROTOCOL_41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1045);
  EXPECT_EQ(err->sql_state, "28000");
  EXPECT_NE(err->message.find("tsh db login"), std::string::npos) << err->message;
  EXPECT_EQ(login.wait_for(100ms), std::future_status::timeout) << "never routed";
}

TEST_F(MysqlFrontendTest, ClientWithoutCertificateIsToldWhatToRun) {
  auto login = serve_one();
  auto socket = connect();
  read_packet(socket);
  asio::write(socket, asio::buffer(ssl_request()));
  auto ctx = client_context(false);
  asio::ssl::stream<net::tcp::socket&> tls(socket, *ctx);
  tls.handshake(asio::ssl::stream_base::client);
  asio::write(tls, asio::buffer(response_packet(2)));
  Wire answer = read_packet(tls);
  EXPECT_EQ(answer.seq, 3);
  auto err = m::parse_err_packet(answer.payload, m::CLIENT_PROTOCOL_41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1045);
  EXPECT_NE(err->message.find("tsh db login"), std::string::npos) << err->message;
  EXPECT_EQ(login.wait_for(100ms), std::future_status::timeout) << "never routed";
}

TEST(MysqlLoginError, UsesTheClientsLayoutAndSequence) {
  MysqlClientLogin login;
  login.capabilities = m::CLIENT_PROTOCOL_41;
  login.next_sequence_id = 3;
  std::string bytes = encode_login_error(login, unavailable("no Database Service serves \"my1\""));
  EXPECT_EQ(static_cast<uint8_t>(bytes[3]), 3);
  auto err = m::parse_err_packet(bytes.substr(4), m::CLIENT_PROTOCOL_41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1105) << "never a client-library code (2xxx): libmariadb calls those malformed";
  EXPECT_EQ(err->sql_state, "08S01");
  EXPECT_EQ(err->message, "no Database Service serves \"my1\"");
  err = m::parse_err_packet(encode_login_error(login, access_denied("no")).substr(4), m::CLIENT_PROTOCOL_41);
  EXPECT_EQ(err->error_code, 1045);
  EXPECT_EQ(err->sql_state, "28000");
}

TEST(GreetingServerVersion, IsTheDatabasesCommonVersionOrTheDefault) {
  auto server = [](std::string protocol, std::string version) {
    DatabaseServer s;
    s.database.protocol = std::move(protocol);
    s.database.mysql_server_version = std::move(version);
    return s;
  };
  EXPECT_EQ(greeting_server_version({}), "8.0.36-Teleport");
  EXPECT_EQ(greeting_server_version({server("mysql", "10.11.6-MariaDB"), server("mysql", "10.11.6-MariaDB"),
                                     server("postgres", "")}),
            "10.11.6-MariaDB");
  EXPECT_EQ(greeting_server_version({server("mysql", "10.11.6-MariaDB"), server("mysql", "8.0.36")}),
            "8.0.36-Teleport");
  EXPECT_EQ(greeting_server_version({server("mysql", "10.11.6-MariaDB"), server("mysql", "")}),
            "8.0.36-Teleport");
}

}  // namespace
}  // namespace tp::proxy
