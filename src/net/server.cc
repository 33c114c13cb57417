#include "net/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <vector>

namespace tp::net {

namespace http = boost::beast::http;
using namespace asio::experimental::awaitable_operators;
using asio::use_awaitable;

Result<tcp::acceptor> listen_tcp(asio::io_context& io, const HostPort& addr) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(addr.host == "localhost" ? "127.0.0.1" : addr.host, ec);
  if (ec) return invalid_argument("listen address " + addr.str() + ": not an IP address");
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(ip, addr.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return unavailable("cannot listen on " + addr.str() + ": " + ec.message() +
                       " (is another process using the port?)");
  return acceptor;
}

asio::awaitable<Result<tcp::socket>> connect_tcp(HostPort addr, std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  // An IP address needs no resolver: Asio's runs getaddrinfo on a thread of its own and hands the
  // result back, a detour on every connection to a database or proxy configured by address.
  // Names are resolved on every connection, so a DNS change (an RDS failover) is seen at once.
  std::vector<tcp::endpoint> endpoints;
  if (auto ip = asio::ip::make_address(addr.host, ec); !ec) {
    endpoints.emplace_back(ip, addr.port);
  } else {
    ec.clear();
    tcp::resolver resolver(executor);
    auto results = co_await resolver.async_resolve(addr.host, std::to_string(addr.port),
                                                   asio::redirect_error(use_awaitable, ec));
    if (ec) co_return unavailable("cannot resolve " + addr.host + ": " + ec.message());
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  tcp::socket socket(executor);
  asio::steady_timer timer(executor, timeout);
  auto outcome = co_await (asio::async_connect(socket, endpoints, asio::redirect_error(use_awaitable, ec)) ||
                           timer.async_wait(use_awaitable));
  if (outcome.index() == 1)
    co_return unavailable("timed out after " + std::to_string(timeout.count()) + "ms connecting to " +
                          addr.str());
  if (ec) co_return unavailable("cannot connect to " + addr.str() + ": " + ec.message());
  socket.set_option(tcp::no_delay(true), ec);
  co_return std::move(socket);
}

asio::awaitable<bool> tls_handshake(TlsStream& stream, asio::ssl::stream_base::handshake_type type,
                                    std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  boost::system::error_code ec;
  auto outcome = co_await (stream.async_handshake(type, asio::redirect_error(use_awaitable, ec)) ||
                           timer.async_wait(use_awaitable));
  co_return outcome.index() == 0 && !ec;
}

std::string endpoint_text(const tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

asio::awaitable<void> serve_http(TlsStream& stream, const HttpHandler& handler, std::optional<Identity> peer,
                                 std::string peer_addr, std::chrono::seconds idle_timeout,
                                 asio::thread_pool* workers) {
  boost::beast::flat_buffer buffer;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    boost::system::error_code ec;
    timer.expires_after(idle_timeout);
    auto outcome = co_await (http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec)) ||
                             timer.async_wait(use_awaitable));
    if (outcome.index() == 1 || ec) break;
    auto& req = parser.get();

    HttpRequest request;
    request.method = std::string(req.method_string());
    std::string target(req.target());
    auto q = target.find('?');
    request.path = target.substr(0, q);
    if (q != std::string::npos) request.query = parse_query(target.substr(q + 1));
    for (const auto& field : req) request.headers[to_lower(std::string(field.name_string()))] = std::string(field.value());
    request.body = std::move(req.body());
    request.peer = peer;
    request.peer_addr = peer_addr;

    HttpResponse response;
    if (workers) {
      // Named, not temporaries in the co_await: GCC 12 destroys such temporaries twice.
      auto call = [&handler, &request]() -> asio::awaitable<HttpResponse> { co_return handler(request); };
      asio::awaitable<HttpResponse> task = call();
      response = co_await asio::co_spawn(*workers, std::move(task), use_awaitable);
    } else {
      response = handler(request);
    }
    http::response<http::string_body> res{static_cast<http::status>(response.status), req.version()};
    res.set(http::field::server, "teleport");
    res.set(http::field::content_type, response.content_type);
    for (const auto& [k, v] : response.headers) res.set(k, v);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(response.body);
    res.prepare_payload();
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  timer.expires_after(std::chrono::seconds(2));
  co_await (stream.async_shutdown(asio::redirect_error(use_awaitable, ignored)) || timer.async_wait(use_awaitable));
}

}  // namespace tp::net
