// serve_http over real TLS: with a worker pool, a handler that takes its time
// (a password hash, a slow disk) does not hold up other connections' requests.
#include "net/server.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <thread>

#include "net/http_client.h"
#include "net/tls.h"
#include "unit/tunnel/test_pki.h"

namespace tp::net {
namespace {

class ServeHttpTest : public ::testing::Test {
 protected:
  void start(asio::thread_pool* workers) {
    auto cert = pki_.host_cert("server", kHostRoleProxy);
    auto ctx = make_server_context({cert.cert_pem, cert.key_pem, {}, false, {}});
    ASSERT_TRUE(ctx.ok()) << ctx.error().message;
    ctx_ = std::make_unique<asio::ssl::context>(std::move(*ctx));
    auto acceptor = listen_tcp(io_, {"127.0.0.1", 0});
    ASSERT_TRUE(acceptor.ok());
    acceptor_ = std::make_unique<tcp::acceptor>(std::move(*acceptor));
    port_ = acceptor_->local_endpoint().port();
    handler_ = [this](HttpRequest& r) {
      if (r.path == "/slow") {
        entered_.set_value();
        slow_released_.wait();  // until the test lets it go
      }
      return HttpResponse::json({{"path", r.path}});
    };
    asio::co_spawn(io_, accept(workers), asio::detached);
    thread_ = std::thread([this] { io_.run(); });  // one io thread: a blocked handler would block it
  }

  void release() {
    if (!released_) release_.set_value();
    released_ = true;
  }

  void TearDown() override {
    release();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  asio::awaitable<void> accept(asio::thread_pool* workers) {
    while (true) {
      auto socket = co_await acceptor_->async_accept(asio::use_awaitable);
      asio::co_spawn(io_, serve(std::move(socket), workers), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket, asio::thread_pool* workers) {
    TlsStream stream(std::move(socket), *ctx_);
    if (!co_await tls_handshake(stream, asio::ssl::stream_base::server, std::chrono::seconds(5))) co_return;
    co_await serve_http(stream, handler_, std::nullopt, "test", std::chrono::seconds(60), workers);
  }

  HttpsClient client() {
    TlsClientConfig tls;
    tls.ca_pems = {pki_.host_ca.cert_pem};
    tls.server_name = "localhost";
    return HttpsClient({"127.0.0.1", port_}, tls, std::chrono::seconds(5));
  }

  testing::TestPki pki_;
  asio::io_context io_;
  std::unique_ptr<asio::ssl::context> ctx_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  HttpHandler handler_;
  std::promise<void> entered_;
  std::promise<void> release_;
  bool released_ = false;
  std::shared_future<void> slow_released_ = release_.get_future().share();
  std::thread thread_;
};

TEST_F(ServeHttpTest, ASlowHandlerOnTheWorkersDoesNotHoldUpOtherRequests) {
  asio::thread_pool workers(2);
  start(&workers);
  auto slow = std::async(std::launch::async, [this] { return client().call("GET", "/slow"); });
  entered_.get_future().wait();  // /slow is inside its handler now, and stays there
  auto fast = client().call("GET", "/fast");
  EXPECT_TRUE(fast.ok()) << fast.error().message << " (the io thread was blocked by /slow)";
  if (fast.ok()) {
    EXPECT_EQ((*fast)["path"], "/fast");
  }
  release();
  auto done = slow.get();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ((*done)["path"], "/slow");
  workers.join();
}

TEST_F(ServeHttpTest, WithoutWorkersHandlersRunOnTheIoThread) {
  start(nullptr);
  release();
  auto r = client().call("GET", "/slow");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["path"], "/slow");
}

}  // namespace
}  // namespace tp::net
