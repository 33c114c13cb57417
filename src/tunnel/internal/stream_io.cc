#include "tunnel/internal/stream_io.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tp::tunnel::internal {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<Status> write_all(net::TlsStream& stream, const std::string& data,
                                  std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto outcome = co_await (asio::async_write(stream, asio::buffer(data), kTuple) || timer.async_wait(kTuple));
  if (outcome.index() == 1) co_return unavailable("timed out writing to the tunnel");
  auto [ec, n] = std::get<0>(outcome);
  if (ec) co_return unavailable("writing to the tunnel: " + ec.message());
  co_return Status{};
}

asio::awaitable<Result<std::string>> read_short_line(net::TlsStream& stream, size_t max_size,
                                                     std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto read_line = [&]() -> asio::awaitable<Result<std::string>> {
    std::string line;
    char c = 0;
    while (line.size() <= max_size) {
      auto [ec, n] = co_await asio::async_read(stream, asio::buffer(&c, 1), kTuple);
      if (ec) co_return unavailable("reading from the tunnel: " + ec.message());
      if (c == '\n') co_return line;
      line.push_back(c);
    }
    co_return unavailable("reading from the tunnel: line longer than " + std::to_string(max_size) + " bytes");
  };
  auto outcome = co_await (read_line() || timer.async_wait(kTuple));
  if (outcome.index() == 1) co_return unavailable("timed out waiting for the agent's answer");
  co_return std::get<0>(std::move(outcome));
}

void enable_keepalive(net::tcp::socket& socket) {
  boost::system::error_code ec;
  socket.set_option(asio::socket_base::keep_alive(true), ec);
  int fd = socket.native_handle();
  int idle = 30, interval = 10, count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace tp::tunnel::internal
