// A TLS stream in which OpenSSL reads and writes the TCP socket itself.
//
// asio::ssl::stream puts a BIO pair and two 17 KiB staging buffers between OpenSSL and the socket,
// about 75 KiB per connection whether or not it carries anything, and copies every byte once more
// on its way. A session through the proxy and the agent holds four TLS connections, so that was most
// of its memory. Here the socket is OpenSSL's BIO: a read or write first asks OpenSSL, and only
// when OpenSSL wants the socket readable or writable does the operation wait for it. With
// SSL_MODE_RELEASE_BUFFERS (net/tls.h) an idle connection holds no record buffers at all.
//
// The interface is the subset of asio::ssl::stream the code uses (handshake, read_some,
// write_some, shutdown, next_layer, native_handle), so asio::async_read/async_write and
// Beast work on it. Like asio::ssl::stream it allows one read and one write at a time, both from
// the same strand. Asio heavy: include only from .cc files.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "net/edge_wait.h"

namespace tp::net {

namespace tls_io {

// What one call into OpenSSL ended with.
struct Step {
  enum Want { kDone, kRead, kWrite } want = kDone;
  size_t bytes = 0;
  boost::system::error_code ec;
};

// A new SSL for `ctx`; partial writes allowed, read-ahead on. Throws std::bad_alloc on failure.
SSL* new_ssl(SSL_CTX* ctx);
// Makes `fd` (non-blocking) the SSL's transport: at the handshake, and again when the connection
// moves to a duplicate descriptor (rebind); the same fd again does nothing.
void attach(SSL* ssl, int fd);
// dup(2) and close(2), for rebind.
int duplicate(int fd, boost::system::error_code& ec);
// Whether the socket's last recv ended with EAGAIN: then a wait for it to become readable needs no
// check first (net/edge_wait.h). mark_readable: a wait saw it
// readable, so it may hold data again whether or not anyone reads it.
bool drained(SSL* ssl);
void mark_readable(SSL* ssl);
void close_descriptor(int fd);

Step handshake(SSL* ssl);
// Reads at least one byte: every record OpenSSL can decrypt without waiting for the socket, up to
// `size`.
Step read(SSL* ssl, void* data, size_t size);
// Writes all of data[done, size) as records, advancing `done` past each one sent. When OpenSSL must
// wait (kRead/kWrite), it holds a record made from the bytes at `done`: call again with the same
// data and `done` once the socket is ready. Done: `bytes` is `done`.
Step write(SSL* ssl, const void* data, size_t size, size_t& done);
Step shutdown(SSL* ssl);

}  // namespace tls_io

// The first non-empty buffer of a sequence: streams that take one buffer per operation (one TLS
// record's worth, as asio::ssl::stream does, or one tunnel frame's) use it.
template <class Buffer, class Buffers>
Buffer first_buffer(const Buffers& buffers) {
  for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
    Buffer b(*it);
    if (b.size() > 0) return b;
  }
  return Buffer();
}

template <class NextLayer>
class BasicTlsStream : public boost::asio::ssl::stream_base {
 public:
  using next_layer_type = std::remove_reference_t<NextLayer>;
  using lowest_layer_type = typename next_layer_type::lowest_layer_type;
  using executor_type = typename next_layer_type::executor_type;
  using native_handle_type = SSL*;
  static_assert(std::is_same_v<next_layer_type, boost::asio::ip::tcp::socket>,
                "OpenSSL reads the socket itself; for TLS over another stream use asio::ssl::stream");

  template <class Socket>
  BasicTlsStream(Socket&& socket, boost::asio::ssl::context& ctx)
      : next_(std::forward<Socket>(socket)), ssl_(tls_io::new_ssl(ctx.native_handle())) {}
  BasicTlsStream(BasicTlsStream&& other) noexcept
      : next_(std::forward<NextLayer>(other.next_)), ssl_(std::exchange(other.ssl_, nullptr)) {}
  BasicTlsStream& operator=(BasicTlsStream&&) = delete;
  BasicTlsStream(const BasicTlsStream&) = delete;
  ~BasicTlsStream() { SSL_free(ssl_); }

  // Moves the connection to `executor`'s event loop (net/io_pool.h): the TLS state stays, the socket
  // is registered with the new loop (as a duplicate descriptor, so that a failure leaves the original
  // untouched) and released from the old one, which cancels what was pending on it. On failure (no
  // descriptor left, the new loop refused it) `ec` says why and the stream stays on its loop, usable,
  // with its pending operations.
  void rebind(const executor_type& executor, boost::system::error_code& ec) requires(
      !std::is_reference_v<NextLayer>)  // a borrowed socket stays its owner's
  {
    const auto protocol = next_.local_endpoint(ec).protocol();
    if (ec) return;
    const int copy = tls_io::duplicate(next_.native_handle(), ec);
    if (ec) return;
    next_layer_type moved(executor);
    moved.assign(protocol, copy, ec);
    if (ec) {
      tls_io::close_descriptor(copy);
      return;
    }
    boost::system::error_code ignored;
    tls_io::close_descriptor(next_.release(ignored));
    next_ = std::move(moved);
    tls_io::attach(ssl_, copy);  // OpenSSL's BIO follows the descriptor
  }

  executor_type get_executor() noexcept { return next_.get_executor(); }
  next_layer_type& next_layer() { return next_; }
  lowest_layer_type& lowest_layer() { return next_.lowest_layer(); }
  SSL* native_handle() { return ssl_; }

  template <class Token>
  auto async_handshake(handshake_type type, Token&& token) {
    tls_io::attach(ssl_, next_.lowest_layer().native_handle());
    if (type == client)
      SSL_set_connect_state(ssl_);
    else
      SSL_set_accept_state(ssl_);
    return start<void(boost::system::error_code)>([](SSL* ssl) { return tls_io::handshake(ssl); },
                                                  std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer first = net::first_buffer<boost::asio::mutable_buffer>(buffers);
    return start<void(boost::system::error_code, size_t)>(
        [first](SSL* ssl) { return tls_io::read(ssl, first.data(), first.size()); }, std::forward<Token>(token));
  }

  // Writes the whole first buffer (as many records as it takes) before it completes: one operation,
  // not one per 16 KiB record.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    boost::asio::const_buffer first = net::first_buffer<boost::asio::const_buffer>(buffers);
    return start<void(boost::system::error_code, size_t)>(
        [first, done = size_t{0}](SSL* ssl) mutable {
          return tls_io::write(ssl, first.data(), first.size(), done);
        },
        std::forward<Token>(token));
  }

  // One read or write that never waits, for a relay that moves bytes in turn (the proxy's relay):
  // saves the post through the event loop that an asynchronous operation finishing at once costs.
  // Read: what OpenSSL can decrypt now, 0 with eof or another error, or 0 with would_block where
  // async_read_some would wait for the socket. Write: the bytes sent, all of `buffer` or less with
  // would_block; then OpenSSL may hold a record made from the bytes that follow, so the rest must go
  // next, with async_write_some. Not while an asynchronous operation of the same kind is pending.
  size_t try_read_some(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) {
    return settle(tls_io::read(ssl_, buffer.data(), buffer.size()), ec);
  }
  size_t try_write_some(boost::asio::const_buffer buffer, boost::system::error_code& ec) {
    size_t done = 0;
    tls_io::Step step = tls_io::write(ssl_, buffer.data(), buffer.size(), done);
    step.bytes = done;
    return settle(step, ec);
  }

  // Completes when a read would find something: bytes OpenSSL already holds, or a readable socket
  // (data, the peer's close, an error). A relay waits here before it allocates its read buffer, so
  // a quiet connection holds none, and skips the read that would only find the socket empty.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        [this, started = false](auto& self, boost::system::error_code ec = {}) mutable {
          if (started) {
            if (!ec) tls_io::mark_readable(ssl_);
            return self.complete(ec);
          }
          started = true;
          if (SSL_has_pending(ssl_) == 1) return boost::asio::post(get_executor(), std::move(self));
          async_wait_edge(next_.lowest_layer(), Readiness::kRead, tls_io::drained(ssl_), std::move(self));
        },
        token, next_);
  }

  // Sends close_notify and waits for the peer's; bound it with a timer.
  template <class Token>
  auto async_shutdown(Token&& token) {
    return start<void(boost::system::error_code)>([](SSL* ssl) { return tls_io::shutdown(ssl); },
                                                  std::forward<Token>(token));
  }

 private:
  static size_t settle(const tls_io::Step& step, boost::system::error_code& ec) {
    ec = step.want == tls_io::Step::kDone ? step.ec : boost::asio::error::would_block;
    return step.bytes;
  }

  // Calls `call` until OpenSSL is done, waiting for the socket in between. A result that is ready
  // at once is still delivered through the executor (never inside the initiating call), so a loop
  // of operations that always succeed cannot grow the stack.
  template <class Call, bool kWithBytes>
  struct Op {
    BasicTlsStream* stream;
    Call call;
    tls_io::Step result;
    enum { kFirst, kWaited, kPosted } state = kFirst;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (state == kPosted) return finish(self, result);
      if (ec) return finish(self, tls_io::Step{tls_io::Step::kDone, 0, ec});
      auto& socket = stream->next_.lowest_layer();
      result = call(stream->ssl_);
      switch (result.want) {
        case tls_io::Step::kRead:  // the socket is drained: OpenSSL's last recv ended with EAGAIN
          state = kWaited;
          return async_wait_edge(socket, Readiness::kRead, tls_io::drained(stream->ssl_), std::move(self));
        case tls_io::Step::kWrite:  // its last send ended with EAGAIN
          state = kWaited;
          return async_wait_edge(socket, Readiness::kWrite, true, std::move(self));
        case tls_io::Step::kDone:
          if (state == kWaited) return finish(self, result);
          state = kPosted;
          return boost::asio::post(stream->get_executor(), std::move(self));
      }
    }

    template <class Self>
    static void finish(Self& self, const tls_io::Step& step) {
      if constexpr (kWithBytes)
        self.complete(step.ec, step.bytes);
      else
        self.complete(step.ec);
    }
  };

  template <class Signature, class Call, class Token>
  auto start(Call call, Token&& token) {
    constexpr bool kWithBytes = std::is_same_v<Signature, void(boost::system::error_code, size_t)>;
    return boost::asio::async_compose<Token, Signature>(Op<Call, kWithBytes>{this, std::move(call), {}}, token,
                                                        next_);
  }

  NextLayer next_;
  SSL* ssl_;
};

using TlsStream = BasicTlsStream<boost::asio::ip::tcp::socket>;

// Streams a relay can wait on for data before it reads: a plain socket, and streams with an
// async_wait_readable of their own (ours, the tunnel's multiplexed streams). Asio's ssl::stream
// cannot tell whether it holds decrypted bytes.
template <class Stream>
concept WaitReadable = std::is_same_v<Stream, boost::asio::ip::tcp::socket> || requires(Stream& s) {
  s.async_wait_readable([](boost::system::error_code) {});
};

template <WaitReadable Stream, class Token>
auto async_wait_readable(Stream& stream, Token&& token) {
  if constexpr (std::is_same_v<Stream, boost::asio::ip::tcp::socket>)
    return stream.async_wait(boost::asio::ip::tcp::socket::wait_read, std::forward<Token>(token));
  else
    return stream.async_wait_readable(std::forward<Token>(token));
}

}  // namespace tp::net
