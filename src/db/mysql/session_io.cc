#include "db/mysql/internal/session_io.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace tp::db::mysql_internal {

using namespace asio::experimental::awaitable_operators;

asio::awaitable<void> close_stream(net::TlsStream& stream) {
  const asio::any_io_executor timer_executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(timer_executor, std::chrono::milliseconds(500));
  co_await (stream.async_shutdown(kTuple) || timer.async_wait(kTuple));
  boost::system::error_code ignored;
  stream.next_layer().close(ignored);
}

asio::awaitable<Status> SerialWriter::write(std::string_view bytes) {
  while (busy_) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(kTuple);
  }
  busy_ = true;
  auto status = co_await write_bytes(stream_, bytes);
  busy_ = false;
  wake_.cancel();
  co_return status;
}

}  // namespace tp::db::mysql_internal
