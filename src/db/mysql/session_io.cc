#include "db/mysql/internal/session_io.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace tp::db::mysql_internal {

using namespace asio::experimental::awaitable_operators;

asio::awaitable<Status> SerialWriter::write(std::string_view bytes) {
  while (busy_) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(kTuple);
  }
  busy_ = true;
  auto status = co_await write_bytes(stream_, bytes, net::without_cancellation());
  busy_ = false;
  wake_.cancel();
  co_return status;
}

}  // namespace tp::db::mysql_internal
