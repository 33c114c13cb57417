// The proxy's byte relay (proxy/internal/streams.h) between real TLS connections on loopback: it
// carries a large message and small ones both ways, between messages it holds no read buffers, and
// when one side goes the relay ends.
#include "proxy/internal/streams.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "net/server.h"
#include "net/tls.h"
#include "unit/common/heap.h"
#include "unit/tunnel/test_pki.h"

namespace tp::proxy::internal {
namespace {

namespace ssl = asio::ssl;

using testing::heap_in_use;

// client <-TLS-> [a relay] <-TLS-> server, the way the proxy sits between psql and the tunnel.
struct Hop {
  std::unique_ptr<net::TlsStream> client, relay_front, relay_back, server;
};

class RelayTest : public ::testing::Test {
 protected:
  RelayTest() {
    auto cert = pki_.host_cert("server", kHostRoleProxy);
    server_ctx_ = std::make_unique<ssl::context>(*net::make_server_context({cert.cert_pem, cert.key_pem}));
    client_ctx_ = std::make_unique<ssl::context>(
        *net::make_client_context({{}, {}, {pki_.host_ca.cert_pem}, false, "localhost", {}}));
  }

  // A handshaken TLS connection: {client end, server end}.
  std::pair<std::unique_ptr<net::TlsStream>, std::unique_ptr<net::TlsStream>> connection() {
    auto acceptor = net::listen_tcp(io_, {"127.0.0.1", 0});
    EXPECT_TRUE(acceptor.ok());
    net::tcp::socket socket(io_);
    socket.connect(acceptor->local_endpoint());
    net::tcp::socket accepted = acceptor->accept();
    socket.set_option(net::tcp::no_delay(true));  // as the proxy's own connections
    accepted.set_option(net::tcp::no_delay(true));
    auto client = std::make_unique<net::TlsStream>(std::move(socket), *client_ctx_);
    auto server = std::make_unique<net::TlsStream>(std::move(accepted), *server_ctx_);
    int done = 0;
    client->async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) { done += !ec; });
    server->async_handshake(ssl::stream_base::server, [&](boost::system::error_code ec) { done += !ec; });
    run_until([&] { return done == 2; });
    EXPECT_EQ(done, 2);
    return {std::move(client), std::move(server)};
  }

  Hop hop() {
    Hop h;
    std::tie(h.client, h.relay_front) = connection();
    std::tie(h.relay_back, h.server) = connection();
    return h;
  }

  // Sends `bytes` from one end and reads them whole at the other.
  void carry(net::TlsStream& from, net::TlsStream& to, const std::string& bytes) {
    std::string got(bytes.size(), '\0');
    int done = 0;
    asio::async_write(from, asio::buffer(bytes), [&](boost::system::error_code ec, size_t) { done += !ec; });
    asio::async_read(to, asio::buffer(got), [&](boost::system::error_code ec, size_t) { done += !ec; });
    run_until([&] { return done == 2; });
    EXPECT_TRUE(got == bytes);
  }

  void run_until(const std::function<bool()>& condition) {
    io_.restart();
    while (!condition() && io_.run_one() > 0) {
    }
  }

  // As run_until, but gives up after `limit` (a relay that does not end would wait forever).
  bool run_until_for(const std::function<bool()>& condition, std::chrono::seconds limit) {
    io_.restart();
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!condition() && std::chrono::steady_clock::now() < give_up)
      io_.run_one_for(std::chrono::milliseconds(50));
    return condition();
  }

  // Starts a relay for `h`, lets a message cross each way so that both directions are waiting
  // again, closes one end and checks that the relay ends: the other direction's wait is cancelled.
  void expect_relay_ends_when_closed(bool close_client) {
    Hop h = hop();
    bool ended = false;
    asio::co_spawn(io_, relay(*h.relay_front, *h.relay_back), [&](std::exception_ptr) { ended = true; });
    carry(*h.client, *h.server, "Q");
    carry(*h.server, *h.client, "R");
    net::TlsStream& gone = close_client ? *h.client : *h.server;
    gone.lowest_layer().close();
    EXPECT_TRUE(run_until_for([&] { return ended; }, std::chrono::seconds(10)))
        << "the relay still waits after the " << (close_client ? "client" : "server") << " closed";
  }

  asio::io_context io_;
  testing::TestPki pki_;
  std::unique_ptr<ssl::context> server_ctx_, client_ctx_;
};

TEST_F(RelayTest, EndsWhenTheClientCloses) {
  expect_relay_ends_when_closed(true);
}

TEST_F(RelayTest, EndsWhenTheServerCloses) {
  expect_relay_ends_when_closed(false);
}

TEST_F(RelayTest, EndsWhenCancelled) {
  Hop h = hop();
  bool ended = false;
  asio::cancellation_signal cancel;
  async_relay(*h.relay_front, *h.relay_back, asio::bind_cancellation_slot(cancel.slot(), [&] { ended = true; }));
  carry(*h.client, *h.server, "Q");
  carry(*h.server, *h.client, "R");
  EXPECT_FALSE(ended);
  cancel.emit(asio::cancellation_type::terminal);
  EXPECT_TRUE(run_until_for([&] { return ended; }, std::chrono::seconds(10))) << "the relay still waits";
  carry(*h.client, *h.relay_front, "the streams stay usable");
}

TEST_F(RelayTest, BetweenMessagesARelayHoldsNoReadBuffers) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator does not report heap use through mallinfo2";
#endif
  constexpr int kHops = 16;
  const std::string large(64 * 1024, 'L');  // grows both relay buffers to their large size
  const std::string query = "select 1", answer = "one row";
  std::vector<Hop> hops;
  for (int i = 0; i < kHops + 1; ++i) hops.push_back(hop());
  auto exercise = [&](Hop& h) {
    carry(*h.client, *h.server, large);
    carry(*h.server, *h.client, large);
    carry(*h.client, *h.server, query);  // quiet again: small messages
    carry(*h.server, *h.client, answer);
  };
  auto start_relay = [&](Hop& h) {
    asio::co_spawn(io_, relay(*h.relay_front, *h.relay_back), asio::detached);
  };
  start_relay(hops[0]);  // warm-up: allocator pools, the first coroutine frames
  exercise(hops[0]);

  const long before = heap_in_use();
  for (int i = 1; i <= kHops; ++i) {
    start_relay(hops[i]);
    exercise(hops[i]);
  }
  io_.restart();
  io_.poll();  // every transfer is back to waiting for its next message
  const long per_relay = (heap_in_use() - before) / kHops;
  // What stays is the relay's state, its two socket waits and the coroutine spawned here, ~1.3 KiB
  // with GCC 12. Each read buffer held while quiet would add 2 KiB (it did: ~8.8 KiB), and the
  // relay's coroutines, one per direction under `||`, held 4.9 KiB.
  EXPECT_LT(per_relay, 2 * 1024) << "bytes held per quiet relay";

  for (Hop& h : hops) carry(*h.client, *h.server, query);  // the relays still carry
  for (Hop& h : hops) carry(*h.server, *h.client, answer);
}

}  // namespace
}  // namespace tp::proxy::internal
