// Reading, writing and closing a session's streams, the client's (a tunnel stream) and the
// server's (TLS): what both engines' relays and start-ups share.
// Asio heavy: include only from .cc files.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "common/read_buffer.h"
#include "common/result.h"
#include "db/internal/session_deadline.h"
#include "net/relay_ops.h"
#include "net/server.h"
#include "tunnel/mux.h"

namespace tp::db::internal {

// Writes all of `bytes`; an error names why the connection is gone. `token` completes with a tuple;
// a relay passes net::without_cancellation().
template <class Stream, class Token>
boost::asio::awaitable<Status> write_bytes(Stream& stream, std::string_view bytes, Token token) {
  auto [ec, n] = co_await boost::asio::async_write(stream, boost::asio::buffer(bytes.data(), bytes.size()),
                                                   std::move(token));
  if (ec) co_return unavailable("connection closed: " + ec.message());
  co_return Status{};
}
template <class Stream>
boost::asio::awaitable<Status> write_bytes(Stream& stream, std::string_view bytes) {
  return write_bytes(stream, bytes, boost::asio::as_tuple(boost::asio::use_awaitable));
}

// What a relay's read from the server ended with: bytes (or the connection's error), or, with
// nothing read, the session's deadline.
struct ServerRead {
  boost::system::error_code ec;
  size_t n = 0;
  DeadlineReason ending = DeadlineReason::kNone;
};

// The server-to-client relay's next read of at most `want` bytes into `buffer`, bound to the session's
// deadline: a deadline reached before or during the read ends it with nothing read (`ending`). A cancel
// of the socket ends it too, with operation_aborted (net::cancel_pending: how the relay's other
// direction stops it). Between answers (the buffer is quiet) it waits for data without a buffer, then
// reads what came; that read finishes a TLS record the server has begun and is not bound. During a
// bulk transfer it reads at once.
boost::asio::awaitable<ServerRead> read_or_deadline(net::TlsStream& stream, ReadBuffer& buffer, size_t want,
                                                    SessionDeadline& deadline);

// For the client-to-server relay, before it reads: between messages (nothing pending, the last
// reads small) frees `pending` and waits until the client sends. An error: the connection is gone,
// or the wait was cancelled (net::cancel_pending). The wait takes no cancellation slot.
boost::asio::awaitable<boost::system::error_code> wait_between_messages(tunnel::MuxStream& stream,
                                                                        const ReadSizer& sizer,
                                                                        std::string& pending);

// Sends close_notify, waits at most `grace` for the peer's, then closes the socket.
boost::asio::awaitable<void> close_stream(net::TlsStream& stream, std::chrono::milliseconds grace);
// A tunnel stream has no close_notify to wait for: sends FIN, then closes the stream. The peer reads
// what was written, then EOF, even when the close resets a stream the peer has not finished.
boost::asio::awaitable<void> close_stream(tunnel::MuxStream& stream);

}  // namespace tp::db::internal
