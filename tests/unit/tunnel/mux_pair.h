// Both ends of a multiplexed tunnel connection in one process, for tests that need real
// tunnel::MuxStreams: a loopback mutual-TLS connection with the proxy's and the agent's host
// certificates, a proxy-side MuxConnection that opens streams and an agent-side one that hands
// them to the test (as MuxTest in mux_test.cc builds its own). BlockingMuxStream drives a
// stream's proxy end from a test thread, as the tests of a synchronous client do.
// Asio heavy.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "net/server.h"
#include "net/tls.h"
#include "tunnel/dial_line.h"
#include "tunnel/mux.h"
#include "unit/tunnel/test_pki.h"

namespace tp::testing {

struct OpenedStream {
  boost::system::error_code ec;
  std::unique_ptr<tunnel::MuxStream> stream;  // when the agent accepted
  std::string answer;                         // the agent's answer text
};

class MuxPair {
 public:
  // The proxy end and the agent end run on two strands of `io`, as the two processes' loops would,
  // so `io` may be run by several threads. `on_open` gets each stream the proxy opens, on the agent
  // end's strand; it must answer it (MuxStream::answer).
  MuxPair(boost::asio::io_context& io, const TestPki& pki, tunnel::MuxOpenHandler on_open,
          tunnel::MuxOptions options = {})
      : io_(io),
        proxy_loop_(boost::asio::make_strand(io)),
        agent_loop_(boost::asio::make_strand(io)),
        on_open_(std::move(on_open)),
        options_(options) {
    auto proxy_cert = pki.host_cert("proxy-1", kHostRoleProxy);
    auto agent_cert = pki.host_cert("agent-1", kHostRoleDb);
    auto server =
        net::make_server_context({proxy_cert.cert_pem, proxy_cert.key_pem, {pki.host_ca.cert_pem}, true, {}});
    auto client = net::make_client_context({agent_cert.cert_pem, agent_cert.key_pem, {pki.host_ca.cert_pem}});
    if (!server.ok() || !client.ok()) throw std::runtime_error("MuxPair: cannot make the TLS contexts");
    server_ctx_ = std::make_unique<boost::asio::ssl::context>(std::move(*server));
    client_ctx_ = std::make_unique<boost::asio::ssl::context>(std::move(*client));
  }
  MuxPair(const MuxPair&) = delete;
  MuxPair& operator=(const MuxPair&) = delete;
  ~MuxPair() {
    // Closed on their loops if close() was not called; a stopped io_context drops the posts.
    if (proxy_) boost::asio::post(proxy_loop_, [c = proxy_] { c->close(); });
    if (agent_) boost::asio::post(agent_loop_, [c = agent_] { c->close(); });
  }

  // Connects and starts both ends; false (and the test fails) when the handshakes fail.
  boost::asio::awaitable<bool> async_connect() {
    namespace asio = boost::asio;
    using namespace asio::experimental::awaitable_operators;
    constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
    auto acceptor = net::listen_tcp(io_, {"127.0.0.1", 0});
    EXPECT_TRUE(acceptor.ok());
    if (!acceptor.ok()) co_return false;
    const net::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), acceptor->local_endpoint().port());
    net::tcp::socket proxy_socket(proxy_loop_), agent_socket(agent_loop_);
    // One after the other: the connect completes in the listen backlog, before the accept.
    auto [connected] = co_await agent_socket.async_connect(endpoint, kTuple);
    auto [accepted] = co_await acceptor->async_accept(proxy_socket, kTuple);
    EXPECT_FALSE(connected || accepted);
    if (connected || accepted) co_return false;
    proxy_socket.set_option(net::tcp::no_delay(true));  // as the proxy and the agent set it
    agent_socket.set_option(net::tcp::no_delay(true));
    auto proxy_tls = std::make_unique<net::TlsStream>(std::move(proxy_socket), *server_ctx_);
    auto agent_tls = std::make_unique<net::TlsStream>(std::move(agent_socket), *client_ctx_);
    auto [proxy_ok, agent_ok] =
        co_await (net::tls_handshake(*proxy_tls, asio::ssl::stream_base::server, std::chrono::seconds(5)) &&
                  net::tls_handshake(*agent_tls, asio::ssl::stream_base::client, std::chrono::seconds(5)));
    EXPECT_TRUE(proxy_ok && agent_ok);
    if (!proxy_ok || !agent_ok) co_return false;
    proxy_ = tunnel::MuxConnection::start(std::move(proxy_tls), tunnel::MuxConnection::Side::kProxy, options_,
                                          nullptr, nullptr);
    agent_ = tunnel::MuxConnection::start(std::move(agent_tls), tunnel::MuxConnection::Side::kAgent, options_,
                                          on_open_, nullptr);
    co_return true;
  }
  // From a thread that does not run `io`, while others do.
  bool connect() {
    return boost::asio::co_spawn(proxy_loop_, async_connect(), boost::asio::use_future).get();
  }

  // Opens a stream with `payload` (the dial request). Await it on proxy_executor(): the stream
  // belongs to that loop.
  boost::asio::awaitable<OpenedStream> async_open(std::string payload) {
    auto [ec, stream, answer] =
        co_await proxy_->async_open(std::move(payload), boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return OpenedStream{ec, std::move(stream), std::move(answer)};
  }
  // From a thread that does not run `io`, while others do.
  OpenedStream open(std::string payload) {
    return boost::asio::co_spawn(proxy_loop_, async_open(std::move(payload)), boost::asio::use_future).get();
  }

  // Ends both connections (every stream fails); from a thread that does not run `io`, while others do.
  void close() {
    auto proxy = std::move(proxy_);
    auto agent = std::move(agent_);
    if (proxy) boost::asio::post(proxy_loop_, boost::asio::use_future([proxy] { proxy->close(); })).get();
    if (agent) boost::asio::post(agent_loop_, boost::asio::use_future([agent] { agent->close(); })).get();
  }

  const boost::asio::any_io_executor& proxy_executor() const { return proxy_loop_; }

 private:
  boost::asio::io_context& io_;
  boost::asio::any_io_executor proxy_loop_, agent_loop_;
  tunnel::MuxOpenHandler on_open_;
  tunnel::MuxOptions options_;
  std::unique_ptr<boost::asio::ssl::context> server_ctx_, client_ctx_;
  std::shared_ptr<tunnel::MuxConnection> proxy_, agent_;
};

// An engine test's proxy end: opens a stream carrying `request`'s dial line, as the proxy's dial()
// does; throws when that fails.
inline std::unique_ptr<tunnel::MuxStream> open_dial(MuxPair& pair, const tunnel::DialRequest& request) {
  std::string line = tunnel::encode_dial_line(request);
  line.pop_back();  // the frame delimits it
  auto opened = pair.open(std::move(line));
  if (opened.ec) throw std::runtime_error("cannot open a tunnel stream: " + opened.ec.message());
  return std::move(opened.stream);
}

// An engine test's agent end: decodes the stream's dial line, accepts it and runs `serve(request,
// stream)` on the stream's executor, as the agent's tunnel does.
template <class Serve>
void serve_dial(std::unique_ptr<tunnel::MuxStream> stream, const std::string& payload, Serve serve) {
  auto request = tunnel::decode_dial_line(payload);
  if (!request.ok()) return stream->answer(false, request.error().message);
  stream->answer(true, "ok");
  auto executor = stream->get_executor();
  boost::asio::co_spawn(executor, serve(std::move(*request), std::move(stream)), boost::asio::detached);
}

// The proxy end of a stream for a test thread: read_some and write_some block while the stream's
// loop runs them, so asio::read and asio::write work on it as on a synchronous socket.
class BlockingMuxStream {
 public:
  explicit BlockingMuxStream(std::unique_ptr<tunnel::MuxStream> stream)
      : stream_(std::move(stream)), loop_(stream_->get_executor()) {}
  BlockingMuxStream(const BlockingMuxStream&) = delete;
  BlockingMuxStream& operator=(const BlockingMuxStream&) = delete;
  ~BlockingMuxStream() { close(); }

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    ec = {};
    if (unread_ == read_ahead_.size()) {
      // Reads ahead, as a TLS stream's record buffer does: a reader of small headers would otherwise
      // cross threads for each.
      read_ahead_.resize(64 * 1024);
      const size_t n = on_loop(ec, [this](tunnel::MuxStream& s, auto done) {
        s.async_read_some(boost::asio::buffer(read_ahead_), std::move(done));
      });
      read_ahead_.resize(n);
      unread_ = 0;
      if (n == 0) return 0;
    }
    const size_t n = boost::asio::buffer_copy(buffers, boost::asio::buffer(read_ahead_) + unread_);
    unread_ += n;
    return n;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    return on_loop(
        ec, [&buffers](tunnel::MuxStream& s, auto done) { s.async_write_some(buffers, std::move(done)); });
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // Closes the stream on its loop, without waiting: the agent sees a reset unless it had finished
  // too, as a client that vanishes. Later operations fail with bad_descriptor.
  void close() {
    if (stream_) boost::asio::post(loop_, [stream = std::move(stream_)] {});
  }

 private:
  // Starts `start(stream, handler)` on the loop and waits for the handler.
  template <class Start>
  size_t on_loop(boost::system::error_code& ec, Start start) {
    if (!stream_) {
      ec = boost::asio::error::bad_descriptor;
      return 0;
    }
    auto done = std::make_shared<std::promise<std::pair<boost::system::error_code, size_t>>>();
    auto result = done->get_future();
    boost::asio::post(loop_, [&] {
      start(*stream_, [done](boost::system::error_code e, size_t n) { done->set_value({e, n}); });
    });
    auto [e, n] = result.get();
    ec = e;
    return n;
  }

  std::unique_ptr<tunnel::MuxStream> stream_;
  boost::asio::any_io_executor loop_;
  std::string read_ahead_;
  size_t unread_ = 0;  // where in read_ahead_ the next read starts
};

}  // namespace tp::testing
