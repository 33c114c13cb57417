#include "db/postgres/internal/session_io.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tp::db::pg_internal {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {
constexpr std::chrono::seconds kStartupTimeout{30};
}

asio::awaitable<Result<std::variant<pg::StartupMessage, pg::CancelRequest>>> read_client_startup(
    ClientConn& client) {
  using Out = Result<std::variant<pg::StartupMessage, pg::CancelRequest>>;
  auto read_packets = [&]() -> asio::awaitable<Out> {
    while (true) {
      auto size = pg::frame_startup_packet(client.pending);
      if (!size.ok()) co_return size.error();
      if (*size == 0) {
        if (auto s = co_await read_more(client.stream, client.pending); !s.ok())
          co_return s.error().wrap("reading the client's startup");
        continue;
      }
      auto packet = pg::parse_startup_packet(std::string_view(client.pending).substr(0, *size));
      client.pending.erase(0, *size);
      if (!packet.ok()) co_return packet.error();
      if (auto* startup = std::get_if<pg::StartupMessage>(&*packet)) co_return std::move(*startup);
      if (auto* cancel = std::get_if<pg::CancelRequest>(&*packet)) co_return *cancel;
      // SSLRequest or GSSENCRequest: carry on unencrypted inside the tunnel.
      if (auto s = co_await write_bytes(client.stream, pg::encode_ssl_response(false)); !s.ok())
        co_return s.error();
    }
  };
  asio::steady_timer timer(co_await asio::this_coro::executor, kStartupTimeout);
  auto outcome = co_await (read_packets() || timer.async_wait(kTuple));
  if (outcome.index() == 1) co_return unavailable("the client sent no startup message within 30s");
  co_return std::get<0>(std::move(outcome));
}

}  // namespace tp::db::pg_internal
