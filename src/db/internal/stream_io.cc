#include "db/internal/stream_io.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tp::db::internal {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<void> close_stream(net::TlsStream& stream, std::chrono::milliseconds grace) {
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  const asio::any_io_executor timer_executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(timer_executor, grace);
  co_await (stream.async_shutdown(kTuple) || timer.async_wait(kTuple));
  boost::system::error_code ignored;
  stream.next_layer().close(ignored);
}

}  // namespace tp::db::internal
