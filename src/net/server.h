// The asynchronous plumbing every listener shares: accepting, TLS handshakes
// with a deadline, and serving HTTP/1.1 on an established TLS stream.
// Asio/Beast heavy: include only from .cc files.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/strings.h"
#include "net/http.h"
#include "net/tls_stream.h"

namespace tp::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Binds and listens (SO_REUSEADDR). Errors name the address.
Result<tcp::acceptor> listen_tcp(asio::io_context& io, const HostPort& addr);

// Resolves host:port and connects, within the timeout.
asio::awaitable<Result<tcp::socket>> connect_tcp(HostPort addr, std::chrono::milliseconds timeout);

// TLS server handshake bounded by a deadline; false on failure or timeout.
asio::awaitable<bool> tls_handshake(TlsStream& stream, asio::ssl::stream_base::handshake_type type,
                                    std::chrono::milliseconds timeout);

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

// Serves requests until the peer closes or goes idle for `idle_timeout`. With
// `workers`, the handler runs there and the io thread relays other sessions
// meanwhile: handlers hash passwords (tens of ms) and write to SQLite.
asio::awaitable<void> serve_http(TlsStream& stream, const HttpHandler& handler, std::optional<Identity> peer,
                                 std::string peer_addr, std::chrono::seconds idle_timeout = std::chrono::seconds(60),
                                 asio::thread_pool* workers = nullptr);

std::string endpoint_text(const tcp::socket& socket);

}  // namespace tp::net
