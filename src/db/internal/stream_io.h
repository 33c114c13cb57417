// Writing to and closing a session's TLS streams: what both engines' relays and start-ups share.
// Asio heavy: include only from .cc files.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string_view>

#include "common/result.h"
#include "net/server.h"

namespace tp::db::internal {

// Writes all of `bytes`; an error names why the connection is gone.
template <class Stream>
boost::asio::awaitable<Status> write_bytes(Stream& stream, std::string_view bytes) {
  auto [ec, n] = co_await boost::asio::async_write(stream, boost::asio::buffer(bytes.data(), bytes.size()),
                                                   boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec) co_return unavailable("connection closed: " + ec.message());
  co_return Status{};
}

// Sends close_notify, waits at most `grace` for the peer's, then closes the socket.
boost::asio::awaitable<void> close_stream(net::TlsStream& stream, std::chrono::milliseconds grace);

}  // namespace tp::db::internal
