// Many streams over one mutual-TLS tunnel connection (frames: tunnel/mux_frame.h).
//
// Why: a session over a connection of its own holds two TLS endpoints for the tunnel alone, one
// in the proxy and one in the agent, ~17 KiB of OpenSSL state each whether or not the session
// does anything (bench/results, heaptrack), and every session costs the agent a TLS handshake to
// replace the connection it used. Over a multiplexed connection a session is a stream id, a
// credit counter and its handlers; the connection's TLS is paid once.
//
// Threading: a MuxConnection and all its streams belong to the event loop of the TLS stream it is
// started on (net/io_pool.h): call everything from that loop, and complete handlers there. No
// locks; the counters read from elsewhere (open_streams, going_away) are atomics.
//
// A stream behaves like a socket: async_read_some / async_write_some (Asio's async_read and
// async_write work on it), async_wait_readable, cancel() (pending operations end with
// operation_aborted; per-operation cancellation slots work too, for `||` with a timer),
// shutdown(send) (the peer reads EOF after what was sent), close() (and the destructor).
// Writes complete once their bytes are queued for the connection, within the stream's credit and a
// bound on the connection's queue; reads complete with what has arrived.
//
// Asio heavy: include only from .cc files.
#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "net/tls_stream.h"
#include "tunnel/mux_frame.h"

namespace tp::tunnel {

class MuxConnection;
namespace mux_internal {
struct Link;
struct StreamState;
}  // namespace mux_internal

class MuxStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using lowest_layer_type = MuxStream;
  using ReadHandler = boost::asio::any_completion_handler<void(boost::system::error_code, size_t)>;
  using WaitHandler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  MuxStream(std::shared_ptr<mux_internal::Link> link, mux_internal::StreamState* state);
  MuxStream(const MuxStream&) = delete;
  MuxStream& operator=(const MuxStream&) = delete;
  ~MuxStream();

  executor_type get_executor() const { return executor_; }
  // For code written against sockets and TLS streams: stream.lowest_layer().cancel(ec).
  MuxStream& lowest_layer() { return *this; }
  MuxStream& next_layer() { return *this; }
  uint32_t id() const { return id_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    auto first = net::first_buffer<boost::asio::mutable_buffer>(buffers);
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this, first](auto handler) { start_read(first, ReadHandler(std::move(handler))); }, token);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    auto first = net::first_buffer<boost::asio::const_buffer>(buffers);
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this, first](auto handler) { start_write(first, ReadHandler(std::move(handler))); }, token);
  }

  // One read or write that never waits, for a relay that moves bytes in turn (the proxy's relay):
  // what it took or queued, or would_block where the asynchronous operation would wait (nothing
  // has arrived; no credit, or the connection's queue is full); other errors as the asynchronous
  // operation completes with. in_progress while an asynchronous operation of the same kind is
  // pending. A write may take less than the buffer (credit, frame size); go on asynchronously.
  size_t try_read_some(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);
  size_t try_write_some(boost::asio::const_buffer buffer, boost::system::error_code& ec);

  // Completes when a read would not wait: bytes have arrived, or the peer finished or reset.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) { start_wait(WaitHandler(std::move(handler))); }, token);
  }

  // Sends kFin: the peer reads EOF after the bytes written before. Completes at once.
  template <class Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          boost::system::error_code ec;
          shutdown(boost::asio::socket_base::shutdown_send, ec);
          complete_now(WaitHandler(std::move(handler)), ec);
        },
        token);
  }

  // Ends the pending read, write and wait with operation_aborted; the stream stays usable.
  void cancel(boost::system::error_code& ec);
  // shutdown_send or shutdown_both: kFin, once. shutdown_receive alone does nothing.
  void shutdown(boost::asio::socket_base::shutdown_type what, boost::system::error_code& ec);
  // Ends the stream: pending operations end with operation_aborted; the peer sees kFin if it had
  // finished too, else kReset (its unread bytes are dropped, as a socket closed with unread data
  // resets). Later operations fail with bad_descriptor.
  void close(boost::system::error_code& ec);
  bool is_open() const { return state_ != nullptr; }

  // Agent side, for a stream the proxy opened: the answer to its kOpen. A refusal ends the stream.
  void answer(bool accepted, const std::string& text);

 private:
  void start_read(boost::asio::mutable_buffer buffer, ReadHandler handler);
  void start_write(boost::asio::const_buffer buffer, ReadHandler handler);
  void start_wait(WaitHandler handler);
  void complete_now(WaitHandler handler, boost::system::error_code ec);

  std::shared_ptr<mux_internal::Link> link_;
  mux_internal::StreamState* state_;  // null once closed (or once the stream ended at the link)
  executor_type executor_;
  uint32_t id_;
};

struct MuxOptions {
  // Credit per stream and direction: the most a sender may have unread at its peer. It must cover
  // the bytes in flight on a bulk transfer, or the sender waits for credit again and again (a
  // 256 KiB window doubled the context switches and the CPU per GiB of a 1 GiB COPY); the
  // receiver holds this much for a stream only while its own reader is slower than the sender.
  uint32_t window = 1024 * 1024;
  // A stream's write waits while the connection has this much queued and not yet sent.
  size_t max_queued = 512 * 1024;
};

// Agent side: called on the connection's loop for each stream the proxy opens, with the kOpen
// payload. It must answer (MuxStream::answer), at once or later.
using MuxOpenHandler = std::function<void(std::unique_ptr<MuxStream> stream, std::string payload)>;

class MuxConnection {
 public:
  enum class Side { kProxy, kAgent };
  using OpenHandler = boost::asio::any_completion_handler<void(boost::system::error_code, std::unique_ptr<MuxStream>,
                                                               std::string)>;

  // Starts reading `tls` (handshake done). The proxy side opens streams; the agent side gets
  // them through `on_open` (unused on the proxy side). `on_closed` runs once, on the loop, when
  // the connection ends (its streams have failed by then). `on_want` (agent side) hears how many
  // connections the proxy asks for (want_connections).
  static std::shared_ptr<MuxConnection> start(std::unique_ptr<net::TlsStream> tls, Side side, MuxOptions options,
                                              MuxOpenHandler on_open,
                                              std::function<void(const boost::system::error_code&)> on_closed,
                                              std::function<void(uint32_t)> on_want = nullptr);
  ~MuxConnection();

  boost::asio::any_io_executor get_executor() const;

  // Proxy side: opens a stream with `payload` (the dial line) and completes with the agent's
  // answer text and, when it accepted, the stream. A refusal completes with connection_refused
  // and the answer text; a closed or draining connection with not_connected. Cancellable (a
  // timeout): the stream is then reset.
  template <class Token>
  auto async_open(std::string payload, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::unique_ptr<MuxStream>,
                                                   std::string)>(
        [this](auto handler, std::string p) { start_open(std::move(p), OpenHandler(std::move(handler))); }, token,
        std::move(payload));
  }

  // Agent side: tells the proxy to open nothing more here (identity renewed, shutting down).
  void go_away();
  // Proxy side: asks the agent to keep `count` connections to this proxy.
  void want_connections(uint32_t count);
  // Ends the connection: every stream's pending and later operations fail.
  void close();

  size_t open_streams() const;
  bool going_away() const;  // either side asked for no new streams
  bool closed() const;

 private:
  explicit MuxConnection(std::shared_ptr<mux_internal::Link> link) : link_(std::move(link)) {}
  void start_open(std::string payload, OpenHandler handler);

  std::shared_ptr<mux_internal::Link> link_;
};

}  // namespace tp::tunnel
