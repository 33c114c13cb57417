// Runs a blocking call on a thread pool and resumes the coroutine on its own
// executor, so io threads never wait on the network.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <type_traits>

namespace tp::db::internal {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> run_blocking(boost::asio::thread_pool& pool, F f) {
  using R = std::invoke_result_t<F>;
  // co_spawn needs a default-constructible result; Result<T> is not.
  auto out = co_await boost::asio::co_spawn(
      pool, [f = std::move(f)]() mutable -> boost::asio::awaitable<std::optional<R>> { co_return f(); },
      boost::asio::use_awaitable);
  co_return std::move(*out);
}

}  // namespace tp::db::internal
