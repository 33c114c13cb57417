#include "db/internal/stream_io.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tp::db::internal {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<ServerRead> read_or_deadline(net::TlsStream& stream, ReadBuffer& buffer, size_t want,
                                             SessionDeadline& deadline) {
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  ServerRead out;
  if (buffer.quiet()) {
    buffer.release();
    auto waited = co_await (stream.async_wait_readable(kTuple) || deadline.wait());
    if (waited.index() == 1) {
      out.ending = std::get<1>(waited);
      co_return out;
    }
    if (auto [ec] = std::get<0>(waited); ec) {
      out.ec = ec;
      co_return out;
    }
    std::tie(out.ec, out.n) = co_await stream.async_read_some(asio::buffer(buffer.data(), want), kTuple);
    co_return out;
  }
  auto outcome =
      co_await (stream.async_read_some(asio::buffer(buffer.data(), want), kTuple) || deadline.wait());
  if (outcome.index() == 1)
    out.ending = std::get<1>(outcome);
  else
    std::tie(out.ec, out.n) = std::get<0>(outcome);
  co_return out;
}

asio::awaitable<boost::system::error_code> wait_between_messages(net::TlsStream& stream,
                                                                 const ReadSizer& sizer,
                                                                 std::string& pending) {
  if (!sizer.quiet() || !pending.empty()) co_return boost::system::error_code();
  ReadSizer::release(pending);
  auto [ec] = co_await stream.async_wait_readable(asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

asio::awaitable<void> close_stream(net::TlsStream& stream, std::chrono::milliseconds grace) {
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  const asio::any_io_executor timer_executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(timer_executor, grace);
  co_await (stream.async_shutdown(kTuple) || timer.async_wait(kTuple));
  boost::system::error_code ignored;
  stream.next_layer().close(ignored);
}

}  // namespace tp::db::internal
