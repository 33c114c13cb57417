#include "db/internal/stream_io.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace tp::db::internal {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<ServerRead> read_or_deadline(net::TlsStream& stream, ReadBuffer& buffer, size_t want,
                                             SessionDeadline& deadline) {
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  ServerRead out;
  if ((out.ending = deadline.reached()) != DeadlineReason::kNone) co_return out;
  // What a bound operation's error means: the deadline, if it came, else the error itself.
  auto ended = [&](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) out.ending = deadline.reached();
    if (out.ending == DeadlineReason::kNone) out.ec = ec;
  };
  if (buffer.quiet()) {
    buffer.release();
    boost::system::error_code ec;
    {
      SessionDeadline::BoundRead bound(deadline);
      auto token = asio::bind_cancellation_slot(bound.slot(), kTuple);
      std::tie(ec) = co_await stream.async_wait_readable(std::move(token));
    }
    if (ec) {
      ended(ec);
      co_return out;
    }
    std::tie(out.ec, out.n) =
        co_await stream.async_read_some(asio::buffer(buffer.data(), want), net::without_cancellation());
    co_return out;
  }
  SessionDeadline::BoundRead bound(deadline);
  auto token = asio::bind_cancellation_slot(bound.slot(), kTuple);
  auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer.data(), want), std::move(token));
  out.n = n;
  if (ec) ended(ec);
  co_return out;
}

asio::awaitable<boost::system::error_code> wait_between_messages(tunnel::MuxStream& stream,
                                                                 const ReadSizer& sizer,
                                                                 std::string& pending) {
  if (!sizer.quiet() || !pending.empty()) co_return boost::system::error_code();
  ReadSizer::release(pending);
  auto [ec] = co_await stream.async_wait_readable(net::without_cancellation());
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

asio::awaitable<void> close_stream(tunnel::MuxStream& stream) {
  boost::system::error_code ignored;
  stream.shutdown(asio::socket_base::shutdown_send, ignored);
  stream.close(ignored);
  co_return;
}

}  // namespace tp::db::internal
