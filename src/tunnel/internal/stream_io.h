// Line and deadline helpers both tunnel ends share. Asio-heavy: .cc files only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "common/result.h"
#include "net/server.h"

namespace tp::tunnel::internal {

// Writes all of `data` within the timeout.
boost::asio::awaitable<Status> write_all(net::TlsStream& stream, const std::string& data,
                                         std::chrono::milliseconds timeout);

// Reads one '\n'-terminated line one byte at a time, so no byte after the line
// is taken from the stream (TLS keeps the rest of the record buffered). For
// short lines only (the dial answer).
boost::asio::awaitable<Result<std::string>> read_short_line(net::TlsStream& stream, size_t max_size,
                                                            std::chrono::milliseconds timeout);

// TCP keepalive with short probes, so a peer that vanished without a FIN is
// noticed within about a minute on an idle pooled connection.
void enable_keepalive(net::tcp::socket& socket);

}  // namespace tp::tunnel::internal
