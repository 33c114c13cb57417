// Stream plumbing shared by the proxy's listeners and tsh's local proxy: reads bounded by a deadline,
// the byte relay, and closing with a last word to the client. Templates over any Asio stream
// (tcp::socket, ssl::stream<...>). Asio heavy: include only from .cc files.
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <concepts>
#include <new>
#include <string>
#include <type_traits>

#include "common/read_buffer.h"
#include "net/relay_ops.h"
#include "net/tls_stream.h"

namespace tp::proxy::internal {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

// GCC 12 may destroy a temporary of class type twice when it appears in a co_await expression
// (e.g. a lambda converted to std::function, or a std::string built for a reference parameter).
// Callers of these coroutines therefore pass named objects, never such temporaries.

// Each relay direction owns one buffer and reads again only after the write of the previous chunk
// completed: a slow reader slows the writer (back-pressure) and memory per session stays at two
// buffers whatever the result set size. The buffers grow while data streams and are released
// while a session is idle (common/read_buffer.h).
inline constexpr size_t kRelayBufferSize = 32 * 1024;

template <class S>
concept TlsLayered = requires(S& s) { s.next_layer(); s.native_handle(); };

// Reads some bytes, giving up at `timeout`. Returns the count; 0 on EOF, error or timeout.
template <class Stream>
asio::awaitable<size_t> read_some_for(Stream& stream, asio::mutable_buffer buffer, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto outcome = co_await (stream.async_read_some(buffer, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (outcome.index() != 0) co_return 0;
  auto [ec, n] = std::get<0>(outcome);
  co_return ec && n == 0 ? 0 : n;
}

// A TLS handshake on any layered stream, bounded by `timeout`.
template <class Stream>
asio::awaitable<bool> handshake_for(Stream& stream, asio::ssl::stream_base::handshake_type type,
                                    std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto outcome = co_await (stream.async_handshake(type, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  co_return outcome.index() == 0 && !std::get<0>(std::get<0>(outcome));
}

template <class Stream>
asio::awaitable<bool> write_all(Stream& stream, const std::string& bytes) {
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
  co_return !ec && n == bytes.size();
}

// Streams with try_read_some / try_write_some (net/tls_stream.h, tunnel/mux.h): reads and writes
// that never wait and report would_block instead.
template <class S>
concept TriesFirst = requires(S& s, asio::mutable_buffer in, asio::const_buffer out, boost::system::error_code& ec) {
  { s.try_read_some(in, ec) } -> std::same_as<size_t>;
  { s.try_write_some(out, ec) } -> std::same_as<size_t>;
};

// Reads a relay direction makes in a row without the event loop (RelayOp::relay_inline).
inline constexpr int kInlineRounds = 4;

// Both directions of the relay, as callback loops in one allocation. Coroutines, one per direction
// awaited with `||`, held ~3.5 KiB of frames per session while it was quiet: two co_spawn'd
// coroutines with the awaitable thread of each, the operator's own frame and its parallel group's
// state (heaptrack, the proxy with 200 idle sessions). This holds the two directions' state and the
// handler in ~200 bytes.
//
// Each direction reads, then writes what it read before it reads again. The direction that ends
// first (its peer closed, or an error) cancels what the other has pending on both sockets; one
// caught between two operations sees `stopped_` before it starts the next. The handler runs once
// both have ended, so the streams and the buffers are no longer in use.
template <class A, class B, class Handler>
class RelayOp {
 public:
  static void start(A& a, B& b, Handler handler) {
    auto* op = new RelayOp(a, b, std::move(handler));
    auto slot = asio::get_associated_cancellation_slot(op->handler_);
    if (slot.is_connected()) slot.assign([op](asio::cancellation_type) { op->stop(); });
    op->next(op->a_to_b_);
    op->next(op->b_to_a_);
  }

 private:
  template <class From, class To>
  struct Direction {
    From& from;
    To& to;
    ReadBuffer buffer{kIdleReadSize, kRelayBufferSize};
  };

  RelayOp(A& a, B& b, Handler handler) : a_to_b_{a, b}, b_to_a_{b, a}, handler_(std::move(handler)) {}

  template <class From, class To>
  void next(Direction<From, To>& d) {
    if (stopped_) return ended();
    if constexpr (net::WaitReadable<From>) {
      if (d.buffer.quiet()) {  // wait without a buffer; a stream of records reads on at once
        d.buffer.release();
        net::async_wait_readable(d.from, [this, &d](boost::system::error_code ec) {
          if (ec || stopped_) return ended();
          read(d);
        });
        return;
      }
    }
    read(d);
  }

  template <class From, class To>
  void read(Direction<From, To>& d) {
    char* data = nullptr;
    try {
      data = d.buffer.data();
    } catch (const std::bad_alloc&) {
      return ended();
    }
    if constexpr (TriesFirst<From> && TriesFirst<To>) {
      if (relay_inline(d, data)) return;
      data = d.buffer.data();  // a read that filled it made it grow: allocated in relay_inline
    }
    d.from.async_read_some(asio::buffer(data, d.buffer.size()),
                           [this, &d](boost::system::error_code ec, size_t n) { write(d, ec, n); });
  }

  // Reads and writes without going through the event loop while neither would wait: an operation
  // that finishes at once still completes through a post, and the loop polls its sockets (a system
  // call) before it runs what was posted; a query and its answer went through several each way. At
  // most kInlineRounds reads in a row, so a bulk transfer still lets the loop's other sessions run
  // and the stack stays flat. True when it went on asynchronously (or ended); false when the read
  // would wait: the caller starts it asynchronously.
  template <class From, class To>
  bool relay_inline(Direction<From, To>& d, char* data) {
    for (int round = 0; round < kInlineRounds; ++round) {
      boost::system::error_code ec;
      const size_t n = d.from.try_read_some(asio::buffer(data, d.buffer.size()), ec);
      if (ec == asio::error::would_block) return false;
      if (n == 0) {
        ended();  // the peer closed, or the read failed
        return true;
      }
      size_t sent = d.to.try_write_some(asio::buffer(data, n), ec);
      if (ec && ec != asio::error::would_block) {
        ended();
        return true;
      }
      if (sent < n) {  // the rest waits for the socket or the stream's credit
        write_rest(d, sent, n, {});
        return true;
      }
      d.buffer.used(n);
      if (stopped_) {
        ended();
        return true;
      }
      if (d.buffer.quiet()) {  // a quiet moment: wait (without a buffer) for the next message
        next(d);
        return true;
      }
      try {
        data = d.buffer.data();  // a read that filled the buffer made it grow
      } catch (const std::bad_alloc&) {
        ended();
        return true;
      }
    }
    return false;  // the next read goes through the loop
  }

  // Passes on what a read brought, then goes on reading.
  template <class From, class To>
  void write(Direction<From, To>& d, boost::system::error_code read_error, size_t n) {
    if (stopped_) return ended();
    if (n == 0) return read_error ? ended() : next(d);
    write_rest(d, 0, n, read_error);
  }

  // Writes bytes [from, n) of the direction's buffer, then goes on reading (or ends, if the read
  // that brought them failed after them).
  template <class From, class To>
  void write_rest(Direction<From, To>& d, size_t from, size_t n, boost::system::error_code read_error) {
    auto written = [this, &d, read_error, n](boost::system::error_code ec, size_t) {
      if (ec || read_error) return ended();  // a read that failed after some bytes: they went first
      d.buffer.used(n);
      next(d);
    };
    asio::async_write(d.to, asio::buffer(d.buffer.data() + from, n - from), written);
  }

  // The first direction to end stops the other.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    net::cancel_pending(a_to_b_.from, b_to_a_.from);
  }

  void ended() {
    stop();
    if (--running_ > 0) return;
    asio::get_associated_cancellation_slot(handler_).clear();
    Handler handler = std::move(handler_);
    delete this;
    std::move(handler)();
  }

  Direction<A, B> a_to_b_;
  Direction<B, A> b_to_a_;
  Handler handler_;
  int running_ = 2;
  bool stopped_ = false;
};

// Relays between a and b until either side fails or closes; completes once both directions have
// ended. Cancelling it stops both.
template <class A, class B, class Token>
auto async_relay(A& a, B& b, Token&& token) {
  return asio::async_initiate<Token, void()>(
      [&a, &b](auto handler) { RelayOp<A, B, decltype(handler)>::start(a, b, std::move(handler)); }, token);
}

template <class A, class B>
asio::awaitable<void> relay(A& a, B& b) {
  return async_relay(a, b, asio::use_awaitable);
}

// Ends a stream politely: TLS close_notify (bounded), then the TCP shutdown.
template <class Stream>
asio::awaitable<void> close_stream(Stream& stream) {
  if constexpr (TlsLayered<Stream>) {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(2));
    co_await (stream.async_shutdown(asio::as_tuple(asio::use_awaitable)) ||
              timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  }
  boost::system::error_code ignored;
  stream.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream.lowest_layer().close(ignored);
}

// Sends a last message (a protocol error) and closes without losing it: the client's unread bytes
// would otherwise make the kernel answer with a reset that can destroy our message before the
// client reads it, so we stop sending, wait briefly for the client to hang up, then close.
template <class Stream>
asio::awaitable<void> send_and_close(Stream& stream, const std::string& bytes) {
  co_await write_all(stream, bytes);
  if constexpr (TlsLayered<Stream>) {
    co_await close_stream(stream);
  } else {
    boost::system::error_code ignored;
    stream.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    std::array<char, 1024> drain;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (co_await read_some_for(stream, asio::buffer(drain), left) == 0) break;
    }
    stream.lowest_layer().close(ignored);
  }
}

}  // namespace tp::proxy::internal
