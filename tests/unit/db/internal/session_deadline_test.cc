// The session deadline and the relay's read that it ends (db/internal/stream_io.h), over a real
// loopback TLS connection: an expiry or a shutdown ends a pending read, whether the connection is
// quiet or streaming; bytes that arrived first are read, not lost; a cancel of the socket (how the
// relay's other direction stops it) ends the read as an error; and a deadline after the read
// finished touches nothing (run under ASan in CI).
#include "db/internal/session_deadline.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <string>

#include "db/internal/stream_io.h"
#include "net/relay_ops.h"
#include "net/server.h"
#include "net/tls.h"
#include "unit/tunnel/test_pki.h"

namespace tp::db::internal {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

class SessionDeadlineTest : public ::testing::Test {
 protected:
  SessionDeadlineTest() {
    auto cert = pki_.host_cert("server", kHostRoleProxy);
    server_ctx_ = std::make_unique<ssl::context>(
        must(net::make_server_context({cert.cert_pem, cert.key_pem, {}, false, {}})));
    client_ctx_ = std::make_unique<ssl::context>(
        must(net::make_client_context({{}, {}, {pki_.host_ca.cert_pem}, false, "localhost", {}})));
    tcp::acceptor acceptor = must(net::listen_tcp(io_, {"127.0.0.1", 0}));
    tcp::socket client(io_);
    client.connect(acceptor.local_endpoint());
    reader_.emplace(std::move(client), *client_ctx_);
    writer_.emplace(acceptor.accept(), *server_ctx_);
  }

  template <class T>
  static T must(Result<T> r) {
    EXPECT_TRUE(r.ok()) << r.error().message;
    return std::move(*r);
  }

  // Handshakes, then runs `test`; fails (rather than hangs) if the test does not finish.
  void run(asio::awaitable<void> test) {
    auto both = [this, test = std::move(test)]() mutable -> asio::awaitable<void> {
      auto side = [](net::TlsStream& s, ssl::stream_base::handshake_type type) -> asio::awaitable<void> {
        auto [ec] = co_await s.async_handshake(type, kTuple);
        EXPECT_FALSE(ec) << ec.message();
      };
      co_await (side(*reader_, ssl::stream_base::client) && side(*writer_, ssl::stream_base::server));
      co_await std::move(test);
    };
    bool done = false;
    asio::co_spawn(io_, both(), [&done](std::exception_ptr e) {
      done = true;
      if (e) std::rethrow_exception(e);
    });
    io_.run_for(10s);
    EXPECT_TRUE(done) << "the test did not finish: a read was not ended";
  }

  asio::awaitable<void> send(std::string bytes) {
    auto [ec, n] = co_await asio::async_write(*writer_, asio::buffer(bytes), kTuple);
    EXPECT_FALSE(ec) << ec.message();
  }

  asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer timer(io_, d);
    co_await timer.async_wait(kTuple);
  }

  asio::io_context io_;
  testing::TestPki pki_;
  std::unique_ptr<ssl::context> server_ctx_;
  std::unique_ptr<ssl::context> client_ctx_;
  std::optional<net::TlsStream> reader_;
  std::optional<net::TlsStream> writer_;
  ReadBuffer quiet_{kIdleReadSize, 64 * 1024};
};

TEST_F(SessionDeadlineTest, AnExpiredCertificateEndsTheNextReadAtOnce) {
  run([this]() -> asio::awaitable<void> {
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.arm(system_clock().now() - 1s);
    auto read = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
    EXPECT_EQ(read.ending, DeadlineReason::kCertificateExpired);
    EXPECT_EQ(read.n, 0u);
    EXPECT_FALSE(read.ec);
  }());
}

TEST_F(SessionDeadlineTest, ExpiryEndsAReadWaitingOnAQuietConnection) {
  run([this]() -> asio::awaitable<void> {
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.arm(system_clock().now() + 30ms);
    EXPECT_EQ(deadline.reached(), DeadlineReason::kNone);
    auto read = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
    EXPECT_EQ(read.ending, DeadlineReason::kCertificateExpired);
    EXPECT_EQ(read.n, 0u);
  }());
}

TEST_F(SessionDeadlineTest, ExpiryEndsAReadDuringABulkTransfer) {
  run([this]() -> asio::awaitable<void> {
    ReadBuffer streaming(kIdleReadSize, 64 * 1024);
    streaming.used(streaming.size());  // a full read: the next one reads at once, large
    EXPECT_FALSE(streaming.quiet());
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.arm(system_clock().now() + 30ms);
    auto read = co_await read_or_deadline(*reader_, streaming, streaming.size(), deadline);
    EXPECT_EQ(read.ending, DeadlineReason::kCertificateExpired);
    EXPECT_EQ(read.n, 0u);
  }());
}

TEST_F(SessionDeadlineTest, BytesThatArrivedFirstAreReadThenTheDeadlineEndsTheNextRead) {
  run([this]() -> asio::awaitable<void> {
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.arm(system_clock().now() + 50ms);
    co_await send("hello");
    co_await sleep(100ms);  // the deadline passes with the bytes waiting
    EXPECT_EQ(deadline.reached(), DeadlineReason::kCertificateExpired);
    // A read that starts after the deadline ends at once; what was sent is still there for the
    // reader that finishes the message in flight.
    auto read = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
    EXPECT_EQ(read.ending, DeadlineReason::kCertificateExpired);
    auto [ec, n] = co_await reader_->async_read_some(asio::buffer(quiet_.data(), quiet_.size()), kTuple);
    EXPECT_EQ(std::string(quiet_.data(), n), "hello");
  }());
}

TEST_F(SessionDeadlineTest, AReadReturnsItsBytesWhileTheDeadlineIsAhead) {
  run([this]() -> asio::awaitable<void> {
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.arm(system_clock().now() + 1h);
    co_await send("query result");
    auto read = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
    EXPECT_EQ(read.ending, DeadlineReason::kNone);
    EXPECT_FALSE(read.ec);
    EXPECT_EQ(std::string(quiet_.data(), read.n), "query result");
  }());
}

TEST_F(SessionDeadlineTest, AStopEndsAPendingRead) {
  run([this]() -> asio::awaitable<void> {
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.arm(system_clock().now() + 1h);
    auto stop = deadline.stop_hook();
    asio::steady_timer later(io_, 20ms);
    later.async_wait([&stop](boost::system::error_code) { stop(); });
    auto read = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
    EXPECT_EQ(read.ending, DeadlineReason::kShutdown);
  }());
}

TEST_F(SessionDeadlineTest, AStopBeforeTheRelayStartsIsReachedWhenItArms) {
  run([this]() -> asio::awaitable<void> {
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.stop_hook()();
    co_await sleep(1ms);  // the hook posts to the session's executor
    deadline.arm(system_clock().now() + 1h);
    EXPECT_EQ(deadline.reached(), DeadlineReason::kShutdown);
    auto read = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
    EXPECT_EQ(read.ending, DeadlineReason::kShutdown);
  }());
}

TEST_F(SessionDeadlineTest, ASocketCancelEndsTheReadAndLeavesTheDeadlineAlone) {
  // The relay's other direction stops this read by cancelling the socket (net/relay_ops.h): the read
  // must end as an error, not as the deadline, even though it is bound to the deadline.
  run([this]() -> asio::awaitable<void> {
    SessionDeadline deadline(io_.get_executor(), system_clock());
    deadline.arm(system_clock().now() + 1h);
    auto cancel_soon = [this]() -> asio::awaitable<void> {
      co_await sleep(20ms);
      net::cancel_pending(*reader_, *writer_);
    };
    ServerRead read = co_await (read_or_deadline(*reader_, quiet_, quiet_.size(), deadline) && cancel_soon());
    EXPECT_EQ(read.ec, asio::error::operation_aborted);
    EXPECT_EQ(read.ending, DeadlineReason::kNone);
    EXPECT_EQ(deadline.reached(), DeadlineReason::kNone);
    // The connection is still usable and the deadline still works.
    co_await send("after");
    auto next = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
    EXPECT_EQ(std::string(quiet_.data(), next.n), "after");
  }());
}

TEST_F(SessionDeadlineTest, ADeadlineAfterTheReadFinishedTouchesNothing) {
  run([this]() -> asio::awaitable<void> {
    std::function<void()> stop;
    {
      SessionDeadline deadline(io_.get_executor(), system_clock());
      deadline.arm(system_clock().now() + 1h);
      stop = deadline.stop_hook();
      co_await send("x");
      auto read = co_await read_or_deadline(*reader_, quiet_, quiet_.size(), deadline);
      EXPECT_EQ(read.n, 1u);
      reader_.reset();  // the connection the read used is gone
      stop();
      co_await sleep(1ms);
      EXPECT_EQ(deadline.reached(), DeadlineReason::kShutdown);
    }
    stop();  // and after the session ended
    co_await sleep(1ms);
  }());
}

}  // namespace
}  // namespace tp::db::internal
