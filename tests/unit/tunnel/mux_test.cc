// The multiplexer over a real mutual-TLS connection on loopback: a proxy end and an agent end on
// one event loop, as the proxy's and the agent's loops run them.
#include "tunnel/mux.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "net/server.h"
#include "net/tls.h"
#include "unit/tunnel/test_pki.h"

namespace tp::tunnel {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// ---- frames, without sockets

TEST(MuxFrameTest, HeaderRoundTrip) {
  std::string out;
  append_frame(out, FrameType::kData, 0x01020304, "hello");
  ASSERT_EQ(out.size(), kFrameHeaderSize + 5);
  EXPECT_EQ(out.substr(0, 9), std::string("\x03\x01\x02\x03\x04\x00\x00\x00\x05", 9));
  FrameHeader h;
  ASSERT_EQ(read_frame_header(out, h), HeaderCheck::kOk);
  EXPECT_EQ(h.type, FrameType::kData);
  EXPECT_EQ(h.stream, 0x01020304u);
  EXPECT_EQ(h.length, 5u);
}

TEST(MuxFrameTest, ShortUnknownAndOversizedHeaders) {
  FrameHeader h;
  EXPECT_EQ(read_frame_header(std::string("\x03\x00\x00", 3), h), HeaderCheck::kNeedMore);
  EXPECT_EQ(read_frame_header(std::string("\x09\x00\x00\x00\x01\x00\x00\x00\x00", 9), h), HeaderCheck::kBadType);
  EXPECT_EQ(read_frame_header(std::string("\x00\x00\x00\x00\x01\x00\x00\x00\x00", 9), h), HeaderCheck::kBadType);
  std::string big;
  append_frame_header(big, FrameType::kData, 1, kMaxDataPayload + 1);
  EXPECT_EQ(read_frame_header(big, h), HeaderCheck::kTooLong);
  std::string open;
  append_frame_header(open, FrameType::kOpen, 1, kMaxDataPayload + 1);  // a dial line may be larger
  EXPECT_EQ(read_frame_header(open, h), HeaderCheck::kOk);
  std::string huge;
  append_frame_header(huge, FrameType::kOpen, 1, kMaxFramePayload + 1);
  EXPECT_EQ(read_frame_header(huge, h), HeaderCheck::kTooLong);
}

TEST(MuxFrameTest, WindowCredit) {
  std::string out;
  append_window_frame(out, 7, 262144);
  FrameHeader h;
  ASSERT_EQ(read_frame_header(out, h), HeaderCheck::kOk);
  EXPECT_EQ(h.type, FrameType::kWindow);
  EXPECT_EQ(window_credit(std::string_view(out).substr(9)), 262144u);
  EXPECT_EQ(window_credit("abc"), std::nullopt);
}

// ---- both ends over TLS

struct Opened {
  boost::system::error_code ec;
  std::unique_ptr<MuxStream> stream;
  std::string answer;
};

class MuxTest : public ::testing::Test {
 protected:
  // Runs `make()` on the loop and waits for its result.
  template <class F>
  auto run(F make) {
    return asio::co_spawn(io_, make(), asio::use_future).get();
  }

  void SetUp() override {
    auto proxy_cert = pki_.host_cert("proxy-1", kHostRoleProxy);
    auto agent_cert = pki_.host_cert("agent-1", kHostRoleDb);
    auto server = net::make_server_context({proxy_cert.cert_pem, proxy_cert.key_pem, {pki_.host_ca.cert_pem}, true, {}});
    auto client = net::make_client_context({agent_cert.cert_pem, agent_cert.key_pem, {pki_.host_ca.cert_pem}});
    ASSERT_TRUE(server.ok() && client.ok());
    server_ctx_ = std::make_unique<asio::ssl::context>(std::move(*server));
    client_ctx_ = std::make_unique<asio::ssl::context>(std::move(*client));
    thread_ = std::thread([this] { io_.run(); });
    connect();
  }

  MuxOptions options_;
  bool raw_agent_ = false;  // the agent end is a bare TLS stream the test writes frames on
  std::unique_ptr<net::TlsStream> agent_raw_;

  void TearDown() override {
    run([this]() -> asio::awaitable<void> {
      held_.clear();
      if (proxy_) proxy_->close();
      if (agent_) agent_->close();
      agent_raw_.reset();
      co_return;
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void connect() {
    run([this, options = options_]() -> asio::awaitable<void> {
      auto acceptor = net::listen_tcp(io_, {"127.0.0.1", 0});
      EXPECT_TRUE(acceptor.ok());
      auto port = acceptor->local_endpoint().port();
      net::tcp::socket client_socket(io_);
      auto both = co_await (acceptor->async_accept(kTuple) &&
                            client_socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, kTuple));
      EXPECT_FALSE(std::get<0>(both));
      net::tcp::socket server_socket = std::move(std::get<1>(both));
      server_socket.set_option(net::tcp::no_delay(true));  // as the proxy and the agent set it
      client_socket.set_option(net::tcp::no_delay(true));
      auto proxy_tls = std::make_unique<net::TlsStream>(std::move(server_socket), *server_ctx_);
      auto agent_tls = std::make_unique<net::TlsStream>(std::move(client_socket), *client_ctx_);
      auto [a, b] = co_await (net::tls_handshake(*proxy_tls, asio::ssl::stream_base::server, 5000ms) &&
                              net::tls_handshake(*agent_tls, asio::ssl::stream_base::client, 5000ms));
      EXPECT_TRUE(a && b);
      proxy_ = MuxConnection::start(std::move(proxy_tls), MuxConnection::Side::kProxy, options, nullptr,
                                    [this](const boost::system::error_code&) { ++proxy_closed_; });
      if (raw_agent_) {
        agent_raw_ = std::move(agent_tls);
        co_return;
      }
      agent_ = MuxConnection::start(
          std::move(agent_tls), MuxConnection::Side::kAgent, options,
          [this](std::unique_ptr<MuxStream> stream, std::string payload) {
            opens_.push_back(payload);
            on_open(std::move(stream), std::move(payload));
          },
          [this](const boost::system::error_code&) { ++agent_closed_; },
          [this](uint32_t count) { wanted_ = count; });
    });
  }

  // From now on the agent accepts a stream opened with "stalled" and never reads it; others echo.
  void hold_stalled_streams() {
    auto echoing = on_open;
    on_open = [this, echoing](std::unique_ptr<MuxStream> stream, std::string payload) {
      if (payload == "stalled") {
        stream->answer(true, "");
        held_.push_back(std::move(stream));
        return;
      }
      echoing(std::move(stream), std::move(payload));
    };
  }
  std::vector<std::unique_ptr<MuxStream>> held_;  // used and released on the loop

  // What the agent does with a stream: by default accept it and echo.
  std::function<void(std::unique_ptr<MuxStream>, std::string)> on_open = [](std::unique_ptr<MuxStream> stream,
                                                                             std::string payload) {
    stream->answer(true, "ok:" + payload.substr(0, 16));
    auto executor = stream->get_executor();
    asio::co_spawn(executor, echo(std::move(stream)), asio::detached);
  };

  static asio::awaitable<void> echo(std::unique_ptr<MuxStream> stream) {
    std::vector<char> buf(8192);
    while (true) {
      auto [ec, n] = co_await stream->async_read_some(asio::buffer(buf), kTuple);
      if (ec) break;
      auto [wec, w] = co_await asio::async_write(*stream, asio::buffer(buf.data(), n), kTuple);
      if (wec) break;
    }
    boost::system::error_code ignored;
    stream->shutdown(asio::socket_base::shutdown_send, ignored);
    // Keep it until the proxy end closes, so the proxy sees a FIN, not a reset.
    co_await stream->async_wait_readable(kTuple);
    std::array<char, 16> rest;
    co_await stream->async_read_some(asio::buffer(rest), kTuple);
  }

  asio::awaitable<Opened> open(std::string payload) {
    auto [ec, stream, answer] = co_await proxy_->async_open(std::move(payload), kTuple);
    co_return Opened{ec, std::move(stream), std::move(answer)};
  }

  // Opens a stream, writes `send`, reads as many bytes back.
  std::string exchange(const std::string& send) {
    return run([this, send]() -> asio::awaitable<std::string> {
      auto opened = co_await open("db");
      if (opened.ec) co_return "open failed: " + opened.ec.message();
      // Written while the echo is read: the echo's window would otherwise fill and stop the writer.
      asio::async_write(*opened.stream, asio::buffer(send), [](boost::system::error_code, size_t) {});
      std::string back(send.size(), '\0');
      auto [ec, n] = co_await asio::async_read(*opened.stream, asio::buffer(back), kTuple);
      if (ec) co_return "read failed: " + ec.message();
      co_return back;
    });
  }

  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::thread thread_;
  testing::TestPki pki_;
  std::unique_ptr<asio::ssl::context> server_ctx_, client_ctx_;
  std::shared_ptr<MuxConnection> proxy_, agent_;
  std::vector<std::string> opens_;
  int proxy_closed_ = 0, agent_closed_ = 0;
  uint32_t wanted_ = 0;  // the last want frame's count, at the agent
};

TEST_F(MuxTest, OpenAnswersAndEchoes) {
  EXPECT_EQ(exchange("hello through the tunnel"), "hello through the tunnel");
  ASSERT_EQ(opens_.size(), 1u);
  EXPECT_EQ(opens_[0], "db");
  auto answer = run([this]() -> asio::awaitable<std::string> {
    auto opened = co_await open("second stream");
    co_return opened.answer;
  });
  EXPECT_EQ(answer, "ok:second stream");
}

TEST_F(MuxTest, RefusalReturnsTheAnswerAndForgetsTheStream) {
  on_open = [](std::unique_ptr<MuxStream> stream, std::string) { stream->answer(false, "no such database"); };
  auto opened = run([this]() -> asio::awaitable<Opened> { co_return co_await open("db"); });
  EXPECT_EQ(opened.ec, asio::error::connection_refused);
  EXPECT_EQ(opened.answer, "no such database");
  EXPECT_EQ(opened.stream, nullptr);
  // Both ends have forgotten it (the agent's stream closed when it refused).
  run([]() -> asio::awaitable<void> { co_await asio::post(asio::use_awaitable); });
  EXPECT_EQ(proxy_->open_streams(), 0u);
  EXPECT_EQ(agent_->open_streams(), 0u);
}

class MuxSmallWindowTest : public MuxTest {
 protected:
  MuxSmallWindowTest() { options_ = MuxOptions{64 * 1024, 128 * 1024}; }
};

TEST_F(MuxSmallWindowTest, LargeTransferArrivesWholeUnderFlowControl) {
  // 3 MiB through a 64 KiB window: the sender waits for credit many times over.
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  EXPECT_TRUE(exchange(data) == data);
}

TEST_F(MuxTest, AStalledStreamDoesNotBlockTheOthers) {
  hold_stalled_streams();  // the agent accepts a stream opened as "stalled" but never reads it
  auto result = run([this]() -> asio::awaitable<std::string> {
    auto stalled = co_await open("stalled");
    if (stalled.ec) co_return "open failed";
    // Write until the window is used up: the write that goes beyond it does not complete.
    std::string chunk(16 * 1024, 'x');
    size_t sent = 0;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (true) {
      timer.expires_after(300ms);
      auto outcome = co_await (asio::async_write(*stalled.stream, asio::buffer(chunk), kTuple) ||
                               timer.async_wait(kTuple));
      if (outcome.index() == 1) break;
      sent += chunk.size();
      if (sent > 4 * MuxOptions{}.window) co_return "no back-pressure";
    }
    if (sent < MuxOptions{}.window - chunk.size()) co_return "stalled early: " + std::to_string(sent);
    // Another stream on the same connection still works.
    auto other = co_await open("other");
    if (other.ec) co_return "second open failed";
    std::string ping = "ping", back(4, '\0');
    co_await asio::async_write(*other.stream, asio::buffer(ping), kTuple);
    timer.expires_after(2s);
    auto outcome = co_await (asio::async_read(*other.stream, asio::buffer(back), kTuple) || timer.async_wait(kTuple));
    if (outcome.index() == 1) co_return "the other stream is blocked";
    co_return back;
  });
  EXPECT_EQ(result, "ping");
}

// try_read_some / try_write_some (the proxy's relay moves bytes with them while neither would wait):
// would_block where the asynchronous operation would wait, in_progress beside a pending one, and a
// write never beyond the stream's credit.
TEST_F(MuxTest, TryOperationsNeverWaitAndKeepToTheCredit) {
  hold_stalled_streams();
  auto result = run([this]() -> asio::awaitable<std::string> {
    auto opened = co_await open("echo");
    if (opened.ec) co_return "open failed";
    MuxStream& stream = *opened.stream;
    std::array<char, 16> buf;
    boost::system::error_code ec;
    if (stream.try_read_some(asio::buffer(buf), ec) != 0 || ec != asio::error::would_block)
      co_return "read of nothing: " + ec.message();
    if (stream.try_write_some(asio::buffer(std::string_view("ping")), ec) != 4 || ec) co_return "write: " + ec.message();
    co_await stream.async_wait_readable(kTuple);
    const size_t n = stream.try_read_some(asio::buffer(buf), ec);
    if (ec || std::string(buf.data(), n) != "ping") co_return "echo: " + ec.message();

    bool read_ended = false;
    stream.async_read_some(asio::buffer(buf), [&read_ended](boost::system::error_code e, size_t) {
      read_ended = e == asio::error::operation_aborted;
    });
    if (stream.try_read_some(asio::buffer(buf), ec) != 0 || ec != asio::error::in_progress)
      co_return "beside a pending read: " + ec.message();
    stream.cancel(ec);
    asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
    co_await timer.async_wait(kTuple);
    if (!read_ended) co_return "the pending read did not end";

    // A stream whose reader never reads: writes stop at the window, some with would_block while the
    // connection's queue is full, until the queue has gone out.
    auto stalled = co_await open("stalled");
    if (stalled.ec) co_return "second open failed";
    const std::string chunk(256 * 1024, 'x');
    size_t sent = 0;
    for (int round = 0; round < 200 && sent < MuxOptions{}.window; ++round) {
      const size_t w = stalled.stream->try_write_some(asio::buffer(chunk), ec);
      if (ec && ec != asio::error::would_block) co_return "stalled write: " + ec.message();
      if (w > kMaxDataPayload) co_return "a write beyond one frame";
      sent += w;
      if (ec) {
        timer.expires_after(5ms);
        co_await timer.async_wait(kTuple);
      }
    }
    if (sent != MuxOptions{}.window) co_return "sent " + std::to_string(sent) + " of the window";
    if (stalled.stream->try_write_some(asio::buffer(chunk), ec) != 0 || ec != asio::error::would_block)
      co_return "a write beyond the window: " + ec.message();

    stream.shutdown(asio::socket_base::shutdown_send, ec);
    if (stream.try_write_some(asio::buffer(chunk), ec) != 0 || ec != asio::error::shut_down)
      co_return "a write after shutdown: " + ec.message();
    co_await stream.async_wait_readable(kTuple);  // the echo answers our fin with its own
    if (stream.try_read_some(asio::buffer(buf), ec) != 0 || ec != asio::error::eof) co_return "after fin: " + ec.message();
    co_return "ok";
  });
  EXPECT_EQ(result, "ok");
}

TEST_F(MuxTest, FinEndsThePeersReadsAfterTheData) {
  on_open = [](std::unique_ptr<MuxStream> stream, std::string) {
    stream->answer(true, "");
    auto executor = stream->get_executor();
    asio::co_spawn(
        executor,
        [](std::unique_ptr<MuxStream> s) -> asio::awaitable<void> {
          co_await asio::async_write(*s, asio::buffer(std::string("last words")), kTuple);
          boost::system::error_code ec;
          s->shutdown(asio::socket_base::shutdown_send, ec);
          co_await s->async_wait_readable(kTuple);  // until the proxy closes
        }(std::move(stream)),
        asio::detached);
  };
  auto result = run([this]() -> asio::awaitable<std::string> {
    auto opened = co_await open("db");
    std::string all;
    std::array<char, 4> buf;
    while (true) {
      auto [ec, n] = co_await opened.stream->async_read_some(asio::buffer(buf), kTuple);
      all.append(buf.data(), n);
      if (ec) co_return all + "|" + (ec == asio::error::eof ? "eof" : ec.message());
    }
  });
  EXPECT_EQ(result, "last words|eof");
}

TEST_F(MuxTest, CloseResetsThePeer) {
  std::shared_ptr<std::string> seen = std::make_shared<std::string>();
  on_open = [seen](std::unique_ptr<MuxStream> stream, std::string) {
    stream->answer(true, "");
    auto executor = stream->get_executor();
    asio::co_spawn(
        executor,
        [](std::unique_ptr<MuxStream> s, std::shared_ptr<std::string> seen) -> asio::awaitable<void> {
          std::array<char, 64> buf;
          auto [ec, n] = co_await s->async_read_some(asio::buffer(buf), kTuple);
          *seen = std::string(buf.data(), n) + "|";
          std::tie(ec, n) = co_await s->async_read_some(asio::buffer(buf), kTuple);
          *seen += ec == asio::error::connection_reset ? "reset" : ec.message();
          std::tie(ec, n) = co_await s->async_write_some(asio::buffer(buf, 1), kTuple);
          *seen += ec == asio::error::connection_reset ? "|write reset" : "|" + ec.message();
        }(std::move(stream), seen),
        asio::detached);
  };
  run([this]() -> asio::awaitable<void> {
    auto opened = co_await open("db");
    co_await asio::async_write(*opened.stream, asio::buffer(std::string("bye")), kTuple);
    boost::system::error_code ec;
    opened.stream->close(ec);
    asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
    co_await timer.async_wait(kTuple);
  });
  EXPECT_EQ(*seen, "bye|reset|write reset");
  EXPECT_EQ(agent_->open_streams(), 0u);
  EXPECT_EQ(proxy_->open_streams(), 0u);
}

TEST_F(MuxTest, CancelledReadLeavesTheStreamUsable) {
  auto result = run([this]() -> asio::awaitable<std::string> {
    auto opened = co_await open("db");
    std::array<char, 16> buf;
    asio::steady_timer timer(co_await asio::this_coro::executor, 50ms);
    auto outcome = co_await (opened.stream->async_read_some(asio::buffer(buf), kTuple) || timer.async_wait(kTuple));
    if (outcome.index() != 1) co_return "read completed with nothing sent";
    // And cancel() ends a pending wait.
    timer.expires_after(20ms);
    auto* stream = opened.stream.get();
    timer.async_wait([stream](boost::system::error_code) {
      boost::system::error_code ignored;
      stream->cancel(ignored);
    });
    auto [waited] = co_await opened.stream->async_wait_readable(kTuple);
    if (waited != asio::error::operation_aborted) co_return "wait not aborted";
    co_await asio::async_write(*opened.stream, asio::buffer(std::string("again")), kTuple);
    std::string back(5, '\0');
    auto [ec, n] = co_await asio::async_read(*opened.stream, asio::buffer(back), kTuple);
    co_return ec ? ec.message() : back;
  });
  EXPECT_EQ(result, "again");
}

TEST_F(MuxTest, AnOpenThatTimesOutIsResetAtTheAgent) {
  auto held = std::make_shared<std::unique_ptr<MuxStream>>();
  auto echoing = on_open;
  on_open = [held, echoing](std::unique_ptr<MuxStream> stream, std::string payload) {
    if (payload != "slow") return echoing(std::move(stream), std::move(payload));
    *held = std::move(stream);  // no answer yet
  };
  auto ec = run([this]() -> asio::awaitable<boost::system::error_code> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    auto outcome = co_await (open("slow") || timer.async_wait(kTuple));
    if (outcome.index() == 0) co_return std::get<0>(outcome).ec;
    co_return asio::error::timed_out;
  });
  EXPECT_EQ(ec, asio::error::timed_out);
  auto after = run([held]() -> asio::awaitable<std::string> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    co_await timer.async_wait(kTuple);
    (*held)->answer(true, "too late");  // dropped: the proxy gave up
    std::array<char, 4> buf;
    auto [rec, n] = co_await (*held)->async_read_some(asio::buffer(buf), kTuple);
    co_return rec == asio::error::connection_reset ? "reset" : rec.message();
  });
  EXPECT_EQ(after, "reset");
  EXPECT_EQ(proxy_->open_streams(), 0u);
  EXPECT_EQ(exchange("still fine"), "still fine");
}

TEST_F(MuxTest, ManyStreamsAtOnce) {
  auto ok = run([this]() -> asio::awaitable<int> {
    std::vector<std::unique_ptr<MuxStream>> streams;
    for (int i = 0; i < 200; ++i) {
      auto opened = co_await open("s" + std::to_string(i));
      if (opened.ec) co_return -1;
      streams.push_back(std::move(opened.stream));
    }
    for (size_t i = 0; i < streams.size(); ++i) {
      std::string msg = "message " + std::to_string(i);
      co_await asio::async_write(*streams[i], asio::buffer(msg), kTuple);
    }
    int good = 0;
    for (size_t i = 0; i < streams.size(); ++i) {
      std::string want = "message " + std::to_string(i), back(want.size(), '\0');
      auto [ec, n] = co_await asio::async_read(*streams[i], asio::buffer(back), kTuple);
      if (!ec && back == want) ++good;
    }
    co_return good;
  });
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(opens_.size(), 200u);
}

TEST_F(MuxTest, ALargeDialLineFitsInOneFrame) {
  std::string line(700 * 1024, 'd');
  auto answer = run([this, line]() -> asio::awaitable<std::string> {
    auto opened = co_await open(line);
    co_return opened.ec ? opened.ec.message() : opened.answer;
  });
  EXPECT_EQ(answer, "ok:dddddddddddddddd");
  ASSERT_EQ(opens_.size(), 1u);
  EXPECT_EQ(opens_[0].size(), line.size());
  EXPECT_EQ(exchange("small after large"), "small after large");
}

TEST_F(MuxTest, GoAwayStopsNewStreamsAndKeepsRunningOnes) {
  auto result = run([this]() -> asio::awaitable<std::string> {
    auto running = co_await open("db");
    agent_->go_away();
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    co_await timer.async_wait(kTuple);
    if (!proxy_->going_away()) co_return "proxy did not hear the go-away";
    auto refused = co_await open("db");
    if (refused.ec != asio::error::not_connected) co_return "opened after go-away";
    co_await asio::async_write(*running.stream, asio::buffer(std::string("on")), kTuple);
    std::string back(2, '\0');
    auto [ec, n] = co_await asio::async_read(*running.stream, asio::buffer(back), kTuple);
    co_return ec ? ec.message() : back;
  });
  EXPECT_EQ(result, "on");
}

TEST_F(MuxTest, TheProxysWantReachesTheAgent) {
  auto wanted = run([this]() -> asio::awaitable<uint32_t> {
    proxy_->want_connections(3);
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    co_await timer.async_wait(kTuple);
    co_return wanted_;
  });
  EXPECT_EQ(wanted, 3u);
  EXPECT_EQ(exchange("still fine"), "still fine");
}

TEST_F(MuxTest, AConnectionThatEndsFailsItsStreams) {
  auto result = run([this]() -> asio::awaitable<std::string> {
    auto opened = co_await open("db");
    std::array<char, 8> buf;
    auto close_agent = [this]() -> asio::awaitable<void> {
      asio::steady_timer timer(co_await asio::this_coro::executor, 50ms);
      co_await timer.async_wait(kTuple);
      agent_->close();
    };
    asio::co_spawn(co_await asio::this_coro::executor, close_agent(), asio::detached);
    auto [rec, rn] = co_await opened.stream->async_read_some(asio::buffer(buf), kTuple);
    std::string out = rec == asio::error::connection_aborted ? "aborted" : rec.message();
    auto [wec, w] = co_await opened.stream->async_write_some(asio::buffer(buf), kTuple);
    out += wec ? "|write failed" : "|write ok";
    auto again = co_await open("db");
    out += again.ec == asio::error::not_connected ? "|no open" : "|opened";
    co_return out;
  });
  EXPECT_EQ(result, "aborted|write failed|no open");
  EXPECT_EQ(proxy_closed_, 1);
  EXPECT_EQ(agent_closed_, 1);
}

// The agent end is a bare TLS stream: the test writes the frames a broken or hostile peer would.
class MuxRawPeerTest : public MuxTest {
 protected:
  MuxRawPeerTest() { raw_agent_ = true; }

  // Sends `frames` from the agent end, then opens a stream from the proxy end and says how that went
  // and whether the proxy end closed.
  std::string send_then_open(std::string frames) {
    return run([this, frames]() -> asio::awaitable<std::string> {
      co_await asio::async_write(*agent_raw_, asio::buffer(frames), kTuple);
      asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
      co_await timer.async_wait(kTuple);
      auto opened = co_await open("db");
      co_return std::string(proxy_->closed() ? "closed" : "open") + "|" + opened.ec.message();
    });
  }
};

TEST_F(MuxRawPeerTest, AnUnknownFrameTypeClosesTheConnection) {
  EXPECT_EQ(send_then_open(std::string("\x09\x00\x00\x00\x01\x00\x00\x00\x00", 9)),
            "closed|" + boost::system::error_code(asio::error::not_connected).message());
  EXPECT_EQ(proxy_closed_, 1);
}

TEST_F(MuxRawPeerTest, AnOpenFromTheAgentClosesTheConnection) {
  std::string frames;
  append_frame(frames, FrameType::kOpen, 5, "not yours");
  EXPECT_EQ(send_then_open(frames), "closed|" + boost::system::error_code(asio::error::not_connected).message());
}

TEST_F(MuxRawPeerTest, AWantFromTheAgentClosesTheConnection) {
  std::string frames;
  append_window_frame(frames, 0, 2, FrameType::kWant);
  EXPECT_EQ(send_then_open(frames), "closed|" + boost::system::error_code(asio::error::not_connected).message());
}

TEST_F(MuxRawPeerTest, DataBeyondTheWindowClosesTheConnection) {
  auto result = run([this]() -> asio::awaitable<std::string> {
    // The proxy opens stream 1; the raw agent accepts and then sends more than the window.
    auto accept_and_flood = [this]() -> asio::awaitable<void> {
      std::array<char, 64> buf;
      co_await agent_raw_->async_read_some(asio::buffer(buf), kTuple);  // the open frame
      std::string frames;
      append_frame(frames, FrameType::kAnswer, 1, std::string(1, '\1'));
      const std::string chunk(kMaxDataPayload, 'x');
      for (size_t sent = 0; sent <= MuxOptions{}.window; sent += chunk.size())
        append_frame(frames, FrameType::kData, 1, chunk);
      co_await asio::async_write(*agent_raw_, asio::buffer(frames), kTuple);
    };
    asio::co_spawn(co_await asio::this_coro::executor, accept_and_flood(), asio::detached);
    auto [ec, stream, answer] = co_await proxy_->async_open("db", kTuple);
    if (!stream) co_return "not opened";
    // Nothing is read until the flood is in (reading would return credit and make it legal).
    asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
    co_await timer.async_wait(kTuple);
    // The stream reads what came within the window, then fails.
    std::vector<char> buf(1 << 20);
    size_t total = 0;
    while (true) {
      auto [ec, n] = co_await stream->async_read_some(asio::buffer(buf), kTuple);
      total += n;
      if (ec) co_return std::to_string(total) + "|" + (ec == asio::error::connection_aborted ? "aborted" : ec.message());
    }
  });
  EXPECT_EQ(result, std::to_string(MuxOptions{}.window) + "|aborted");
  EXPECT_TRUE(proxy_->closed());
}

}  // namespace
}  // namespace tp::tunnel
