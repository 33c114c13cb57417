// Stream plumbing shared by the proxy's listeners and tsh's local proxy: reads bounded by a deadline,
// the byte relay, and closing with a last word to the client. Templates over any Asio stream
// (tcp::socket, ssl::stream<...>). Asio heavy: include only from .cc files.
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
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

// Copies from -> to until either side fails or closes.
template <class From, class To>
asio::awaitable<void> copy_stream(From& from, To& to) {
  ReadBuffer buffer(kIdleReadSize, kRelayBufferSize);
  while (true) {
    if constexpr (net::WaitReadable<From>) {
      if (buffer.quiet()) {  // wait without a buffer; a stream of records reads on at once
        buffer.release();
        auto [wec] = co_await net::async_wait_readable(from, net::without_cancellation());
        if (wec) co_return;
      }
    }
    auto [rec, n] = co_await from.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                                  net::without_cancellation());
    if (n > 0) {
      auto [wec, written] =
          co_await asio::async_write(to, asio::buffer(buffer.data(), n), net::without_cancellation());
      if (wec) co_return;
    }
    if (rec) co_return;
    buffer.used(n);
  }
}

// One direction of the relay: copies, then cancels whatever the other direction is waiting for on
// either stream. The copy's operations take no cancellation slot, so `||` alone could not stop the
// other direction while it waits (net/relay_ops.h says why, and how this stops it instead).
template <class From, class To>
asio::awaitable<void> transfer(From& from, To& to) {
  try {
    co_await copy_stream(from, to);
    net::cancel_pending(from, to);
  } catch (...) {
    net::cancel_pending(from, to);
    throw;
  }
}

// Both directions at once; when one ends, the other is cancelled (STYLE: "relay = two transfer
// coroutines awaited with ||"; transfer says how).
template <class A, class B>
asio::awaitable<void> relay(A& a, B& b) {
  co_await (transfer(a, b) || transfer(b, a));
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
