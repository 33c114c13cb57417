// Both ends of the reverse tunnel over real mutual TLS on loopback: a test
// listener plays the proxy's web port (ALPN teleport-reversetunnel) and hands
// verified agent connections to the TunnelServer. The proxy side runs on
// event loops of one thread each, as net/io_pool.h runs them.
#include "tunnel/tunnel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <future>
#include <thread>

#include "net/tls.h"
#include "tunnel/mux.h"
#include "unit/tunnel/test_pki.h"

namespace tp::tunnel {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Greets with what it was dialled for, then echoes.
DialHandler echo_handler() {
  return [](DialRequest r, std::unique_ptr<MuxStream> s) -> asio::awaitable<void> {
    std::string hello = "db=" + r.db_name + ";data=" + r.initial_data + ";";
    co_await asio::async_write(*s, asio::buffer(hello), kTuple);
    char buf[1024];
    while (true) {
      auto [ec, n] = co_await s->async_read_some(asio::buffer(buf), kTuple);
      if (ec) break;
      co_await asio::async_write(*s, asio::buffer(buf, n), kTuple);
    }
  };
}

// An event loop on a thread of its own, as net/io_pool.h runs them, until destroyed.
struct LoopThread {
  asio::io_context loop{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{loop.get_executor()};
  std::thread thread{[this] { loop.run(); }};
  ~LoopThread() {
    loop.stop();
    thread.join();
  }
};

// Wraps a handler to note the thread each session runs on (inside the session's coroutine: the
// handler itself is called where the session is started).
class ThreadRecorder {
 public:
  DialHandler wrap(DialHandler inner) {
    return [this, inner](DialRequest r, std::unique_ptr<MuxStream> s) -> asio::awaitable<void> {
      {
        std::lock_guard lock(mu_);
        threads_.push_back(std::this_thread::get_id());
      }
      co_await inner(std::move(r), std::move(s));
    };
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::vector<std::thread::id> threads_;
};

class TunnelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxy_cert_ = pki_.host_cert("proxy-1", kHostRoleProxy);
    agent_cert_ = pki_.host_cert("agent-1", kHostRoleDb);
    auto ctx = net::make_server_context(
        {proxy_cert_.cert_pem, proxy_cert_.key_pem, {pki_.host_ca.cert_pem}, true, {kAlpnReverseTunnel}});
    ASSERT_TRUE(ctx.ok());
    server_ctx_ = std::make_unique<asio::ssl::context>(std::move(*ctx));
    // As the proxy's web port does (proxy_service.cc build_contexts).
    net::resume_sessions_for(*server_ctx_, kAlpnReverseTunnel, kTunnelSessionLifetime);
    auto acceptor = net::listen_tcp(proxy_.loop, {"127.0.0.1", 0});
    ASSERT_TRUE(acceptor.ok());
    acceptor_ = std::make_unique<net::tcp::acceptor>(std::move(*acceptor));
    port_ = acceptor_->local_endpoint().port();
    set_server(make_tunnel_server({&proxy_.loop}, 1s));
    asio::co_spawn(proxy_.loop, accept_loop(), asio::detached);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    for (auto& a : agents_) a->stop();
    // On the acceptor's loop, and waited for: it must not run after the fixture's members are gone.
    asio::post(proxy_.loop, asio::use_future([this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    })).get();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  std::shared_ptr<TunnelServer> server() {
    std::lock_guard lock(mu_);
    return server_;
  }
  void set_server(std::shared_ptr<TunnelServer> s) {
    std::lock_guard lock(mu_);
    server_ = std::move(s);
  }

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_->async_accept(kTuple);
      if (ec) co_return;
      asio::co_spawn(proxy_.loop, handshake(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> handshake(net::tcp::socket socket) {
    {
      std::lock_guard lock(mu_);
      accepted_fds_.push_back(socket.native_handle());
    }
    socket.set_option(net::tcp::no_delay(true));
    net::TlsStream stream(std::move(socket), *server_ctx_);
    if (!co_await net::tls_handshake(stream, asio::ssl::stream_base::server, 5s)) co_return;
    auto id = net::peer_identity(stream.native_handle());
    if (!id.ok()) co_return;
    {
      std::lock_guard lock(mu_);
      handshakes_.push_back(
          {net::resumed(stream.native_handle()), net::peer_cert_pem(stream.native_handle())});
    }
    server()->add_connection(id->username, std::move(stream));
  }

  size_t handshakes() {
    std::lock_guard lock(mu_);
    return handshakes_.size();
  }

  // Ends the proxy's side of every agent connection so far, as a proxy restart or a network cut would.
  void cut_connections() {
    std::lock_guard lock(mu_);
    for (int fd : accepted_fds_) ::shutdown(fd, SHUT_RDWR);
    accepted_fds_.clear();
  }

  TunnelAgentConfig agent_config(size_t connections) const {
    TunnelAgentConfig c;
    c.proxy_addr = {"127.0.0.1", port_};
    c.cert_pem = agent_cert_.cert_pem;
    c.key_pem = agent_cert_.key_pem;
    c.host_ca_pems = {pki_.host_ca.cert_pem};
    c.connections = connections;
    c.min_backoff = 10ms;
    c.max_backoff = 100ms;
    return c;
  }

  std::shared_ptr<TunnelAgent> start_agent(DialHandler handler,
                                           std::function<Status(const DialRequest&)> accept = {},
                                           size_t connections = 2) {
    TunnelAgentConfig c = agent_config(connections);
    c.accept = std::move(accept);
    agents_.push_back(start_tunnel_agent(io_, c, std::move(handler)));
    return agents_.back();
  }

  bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return condition();
  }

  bool agent_connected(const std::shared_ptr<TunnelServer>& s) {
    auto agents = s->connected_agents();
    return std::find(agents.begin(), agents.end(), "agent-1") != agents.end();
  }

  // Dials from a session on `loop`, sends `send` after reading the greeting, returns greeting + echo
  // or "ERROR <code>: <message>".
  std::string dial_and_exchange(DialRequest request, std::string send, std::string host = "agent-1",
                                asio::io_context* loop = nullptr) {
    auto s = server();
    auto run = [s, request, send, host]() -> asio::awaitable<std::string> {
      auto stream = co_await s->dial(host, request);
      if (!stream.ok())
        co_return std::string("ERROR ") + error_code_name(stream.error().code) + ": " +
            stream.error().message;
      std::string greeting = "db=" + request.db_name + ";data=" + request.initial_data + ";";
      std::string reply(greeting.size() + send.size(), '\0');
      co_await asio::async_write(**stream, asio::buffer(send), kTuple);
      auto [ec, n] = co_await asio::async_read(**stream, asio::buffer(reply), kTuple);
      if (ec) co_return "ERROR reading: " + ec.message();
      co_return reply;
    };
    return asio::co_spawn(loop ? *loop : proxy_.loop, run(), asio::use_future).get();
  }

  // The agent's side runs on io_ (two threads: its connections get strands); the proxy's on one loop.
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
  LoopThread proxy_;
  testing::TestPki pki_;
  testing::KeyPair proxy_cert_, agent_cert_;
  std::unique_ptr<asio::ssl::context> server_ctx_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::shared_ptr<TunnelServer> server_;
  std::vector<int> accepted_fds_;
  struct AcceptedHandshake {
    bool resumed;
    std::string client_cert_pem;
  };
  std::vector<AcceptedHandshake> handshakes_;  // of connections handed to the server
  std::vector<std::shared_ptr<TunnelAgent>> agents_;
};

DialRequest request_for(std::string db, std::string data = "") {
  DialRequest r;
  r.db_name = std::move(db);
  r.protocol = "postgres";
  r.initial_data = std::move(data);
  return r;
}

TEST_F(TunnelTest, DialReachesTheAgentsHandlerWithTheRequestAndBytesFlowBothWays) {
  start_agent(echo_handler());
  ASSERT_TRUE(wait_for([&] { return agent_connected(server()); }));
  EXPECT_EQ(dial_and_exchange(request_for("pg1", std::string("\0\x01startup", 9)), "ping"),
            std::string("db=pg1;data=\0\x01startup;ping", 26));
  EXPECT_EQ(dial_and_exchange(request_for("pg2"), "pong"), "db=pg2;data=;pong");
}

TEST_F(TunnelTest, SessionsShareTheAgentsConnections) {
  start_agent(echo_handler(), {}, /*connections=*/1);
  ASSERT_TRUE(wait_for([&] { return agent_connected(server()); }));
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < 8; ++i) {
    std::string db = "pg" + std::to_string(i);
    results.push_back(
        std::async(std::launch::async, [this, db] { return dial_and_exchange(request_for(db), "!"); }));
  }
  for (int i = 0; i < 8; ++i) EXPECT_EQ(results[i].get(), "db=pg" + std::to_string(i) + ";data=;!");
  EXPECT_EQ(handshakes(), 1u) << "no TLS handshake per session";
}

TEST_F(TunnelTest, ReconnectionsResumeTheAgentsTlsSessionAndARenewalStartsOver) {
  auto agent = start_agent(echo_handler(), {}, /*connections=*/1);
  ASSERT_TRUE(wait_for([&] { return agent_connected(server()); }));
  EXPECT_EQ(dial_and_exchange(request_for("pg1"), "x"), "db=pg1;data=;x");
  // The connection drops twice; the agent comes back each time, resuming its TLS session.
  for (size_t n = 2; n <= 3; ++n) {
    cut_connections();
    ASSERT_TRUE(wait_for([&] { return handshakes() >= n; }));
    EXPECT_EQ(dial_and_exchange(request_for("pg1"), "x"), "db=pg1;data=;x");
  }
  {
    std::lock_guard lock(mu_);
    EXPECT_FALSE(handshakes_[0].resumed);
    for (size_t i = 1; i < 3; ++i) {
      EXPECT_TRUE(handshakes_[i].resumed) << "connection " << i + 1;
      // The server still gets the agent's certificate to check.
      EXPECT_EQ(handshakes_[i].client_cert_pem, agent_cert_.cert_pem);
    }
  }
  // A renewed identity makes a new connection with a full handshake and the new certificate; the
  // old one takes no new sessions.
  auto renewed = pki_.host_cert("agent-1", kHostRoleDb);
  agent->update_identity(renewed.cert_pem, renewed.key_pem);
  ASSERT_TRUE(wait_for([&] { return handshakes() >= 4; }));
  EXPECT_EQ(dial_and_exchange(request_for("pg1"), "x"), "db=pg1;data=;x");
  std::lock_guard lock(mu_);
  EXPECT_FALSE(handshakes_[3].resumed);
  EXPECT_EQ(handshakes_[3].client_cert_pem, renewed.cert_pem);
}

TEST_F(TunnelTest, TheAgentsRefusalComesBackAsTheDialError) {
  start_agent(echo_handler(), [](const DialRequest& r) -> Status {
    if (r.db_name == "other") return not_found("this agent does not serve database \"other\"");
    return {};
  });
  ASSERT_TRUE(wait_for([&] { return agent_connected(server()); }));
  EXPECT_EQ(dial_and_exchange(request_for("other"), "x"),
            "ERROR not_found: this agent does not serve database \"other\"");
  EXPECT_EQ(dial_and_exchange(request_for("pg1"), "x"), "db=pg1;data=;x");
}

TEST_F(TunnelTest, AnUnknownAgentFailsAtOnce) {
  auto start = std::chrono::steady_clock::now();
  std::string out = dial_and_exchange(request_for("pg1"), "x", "nobody");
  EXPECT_EQ(out.rfind("ERROR unavailable", 0), 0u) << out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

TEST_F(TunnelTest, AnAgentThatLostItsConnectionCountsWhileItReconnects) {
  // The proxy picks agents from connected_agents(); an agent whose connection just dropped is
  // reconnecting, and a session arriving meanwhile waits for it instead of failing.
  set_server(make_tunnel_server({&proxy_.loop}, 1500ms));
  start_agent(echo_handler(), {}, /*connections=*/1);
  ASSERT_TRUE(wait_for([&] { return agent_connected(server()); }));
  std::this_thread::sleep_for(1600ms);  // past recently_seen: only the loss itself keeps it listed
  cut_connections();
  EXPECT_TRUE(agent_connected(server()));
  EXPECT_EQ(dial_and_exchange(request_for("pg1"), "back"), "db=pg1;data=;back");
}

TEST_F(TunnelTest, AStoppedAgentTakesNoNewSessionsAndFinishesItsRunningOnes) {
  set_server(make_tunnel_server({&proxy_.loop}, 300ms));
  auto agent = start_agent(echo_handler());
  ASSERT_TRUE(wait_for([&] { return agent_connected(server()); }));
  auto s = server();
  auto result = asio::co_spawn(
      proxy_.loop,
      [](std::shared_ptr<TunnelServer> s, std::shared_ptr<TunnelAgent> agent) -> asio::awaitable<std::string> {
        auto stream = co_await s->dial("agent-1", request_for("pg1"));
        if (!stream.ok()) co_return "ERROR " + stream.error().message;
        agent->stop();
        asio::steady_timer timer(co_await asio::this_coro::executor, 500ms);
        co_await timer.async_wait(kTuple);
        // The running session still works...
        std::string reply(std::string("db=pg1;data=;ping").size(), '\0');
        co_await asio::async_write(**stream, asio::buffer(std::string("ping")), kTuple);
        auto [ec, n] = co_await asio::async_read(**stream, asio::buffer(reply), kTuple);
        if (ec) co_return "ERROR reading: " + ec.message();
        // ...and a new one does not start.
        auto refused = co_await s->dial("agent-1", request_for("pg2"));
        co_return reply + (refused.ok() ? " | a new session started" : " | " + refused.error().message);
      }(s, agent),
      asio::use_future);
  std::string out = result.get();
  EXPECT_EQ(out.rfind("db=pg1;data=;ping | ", 0), 0u) << out;
  EXPECT_NE(out.find("no reverse tunnel connection"), std::string::npos) << out;
  EXPECT_TRUE(wait_for([&] { return !agent_connected(server()); }));
}

TEST_F(TunnelTest, TheAgentRejoinsARestartedProxy) {
  start_agent(echo_handler());
  ASSERT_TRUE(wait_for([&] { return agent_connected(server()); }));
  // The proxy restarts: its connections die and a new server takes over the port.
  auto old_server = server();
  set_server(make_tunnel_server({&proxy_.loop}, 300ms));
  cut_connections();
  EXPECT_TRUE(wait_for([&] { return !agent_connected(old_server); }));
  EXPECT_TRUE(wait_for([&] { return agent_connected(server()); }, 3s)) << "the agent dials the new proxy";
  EXPECT_EQ(dial_and_exchange(request_for("pg1"), "again"), "db=pg1;data=;again");
}

TEST_F(TunnelTest, TheAgentRefusesAServerThatIsNotTheClustersProxy) {
  // Same host CA, but a Db host certificate: not a proxy.
  auto impostor = pki_.host_cert("impostor", kHostRoleDb);
  auto ctx = net::make_server_context(
      {impostor.cert_pem, impostor.key_pem, {pki_.host_ca.cert_pem}, true, {kAlpnReverseTunnel}});
  ASSERT_TRUE(ctx.ok());
  *server_ctx_ = std::move(*ctx);
  start_agent(echo_handler());
  std::this_thread::sleep_for(300ms);
  // The agent hangs up right after each handshake, so no dial gets through.
  std::string out = dial_and_exchange(request_for("pg1"), "x");
  EXPECT_EQ(out.rfind("ERROR unavailable", 0), 0u) << out;
}

// The proxy has two event loops: it asks the agent for a connection per loop, puts one on each,
// and a session dials over the connection on its own loop. The agent runs each session on its
// connection's loop.
TEST_F(TunnelTest, EveryProxyLoopGetsAConnectionAndSessionsStayOnTheirLoops) {
  LoopThread second;
  set_server(make_tunnel_server({&proxy_.loop, &second.loop}));
  LoopThread agent_a, agent_b;
  ThreadRecorder recorder;
  TunnelAgentConfig c = agent_config(1);  // the proxy asks for two
  std::atomic<int> turn = 0;
  c.session_io = [&]() -> asio::io_context& { return turn++ % 2 == 0 ? agent_a.loop : agent_b.loop; };
  auto agent = start_tunnel_agent(io_, c, recorder.wrap(echo_handler()));
  ASSERT_TRUE(wait_for([&] { return handshakes() >= 2; })) << "a second connection for the second loop";

  auto s = server();
  auto run = [s](std::string db, asio::io_context* expected) -> asio::awaitable<std::string> {
    auto stream = co_await s->dial("agent-1", request_for(db));
    if (!stream.ok()) co_return "ERROR " + stream.error().message;
    const bool here = &asio::query((*stream)->get_executor(), asio::execution::context) == expected;
    std::string reply(std::string("db=" + db + ";data=;ping").size(), '\0');
    co_await asio::async_write(**stream, asio::buffer(std::string("ping")), kTuple);
    auto [ec, n] = co_await asio::async_read(**stream, asio::buffer(reply), kTuple);
    if (ec) co_return "ERROR reading: " + ec.message();
    co_return (here ? "on the session's loop: " : "elsewhere: ") + reply;
  };
  for (asio::io_context* loop : {&proxy_.loop, &second.loop})
    EXPECT_EQ(asio::co_spawn(*loop, run("pg1", loop), asio::use_future).get(),
              "on the session's loop: db=pg1;data=;ping");
  // The two sessions went over the two connections, one on each of the agent's loops.
  auto threads = recorder.threads();
  ASSERT_EQ(threads.size(), 2u);
  EXPECT_NE(threads[0], threads[1]);
  for (auto id : threads) EXPECT_TRUE(id == agent_a.thread.get_id() || id == agent_b.thread.get_id());
  agent->stop();
}

}  // namespace
}  // namespace tp::tunnel
