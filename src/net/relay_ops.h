// How a relay's two directions stop each other without a cancellation slot on every operation.
//
// Every read, wait and write of a coroutine awaited under `||` inherits its cancellation slot: it
// installs a cancellation handler and clears it again, a few per cent of a proxying process's CPU
// per query. So a relay's per-message operations take no slot (without_cancellation), and the
// direction that ends first cancels what is pending on both sockets (cancel_pending). A direction
// caught between two operations must still be stopped: under `||` (the MySQL engine's relay) its
// coroutine is marked cancelled, so its next co_await throws operation_aborted; under
// first_to_end (the PostgreSQL engine's) the one running in the relay's own coroutine checks a flag
// instead. The proxy's relay is callbacks (proxy/internal/streams.h) and checks a flag too.
//
// Call cancel_pending after the direction returns, or when it throws; not from a destructor: a
// coroutine frame destroyed along with its io_context may outlive the streams.
// Asio heavy: include only from .cc files.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace tp::net {

// The completion token of an operation that takes no cancellation slot; it completes with a tuple.
inline auto without_cancellation() {
  return boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                             boost::asio::as_tuple(boost::asio::use_awaitable));
}

// Cancels the operations pending on both streams' sockets; the streams stay usable.
template <class A, class B>
void cancel_pending(A& a, B& b) {
  boost::system::error_code ignored;
  a.lowest_layer().cancel(ignored);
  b.lowest_layer().cancel(ignored);
}

// Runs `here` in this coroutine and `beside` in one spawned next to it, and completes once both have
// ended, with the result (or the exception) of the first to end. When the first ends,
// `on_first_end()` runs (a relay cancels what is pending on both sockets) and `stopped` is set;
// `beside` is also cancelled (terminal: its timer waits end, its next co_await throws), while
// `here`, which is not cancellable from outside, must check `stopped` before each operation.
//
// Under `||` each side is a co_spawn'd coroutine and the operator has a frame and a parallel group
// of its own: ~1 KiB more per session while it relays (heaptrack). `here` must not wait on a timer
// that only cancellation ends.
template <class T, class OnFirstEnd>
boost::asio::awaitable<T> first_to_end(boost::asio::awaitable<T> here, boost::asio::awaitable<T> beside,
                                       bool& stopped, OnFirstEnd on_first_end) {
  namespace asio = boost::asio;
  struct Beside {
    asio::cancellation_signal cancel;
    bool ended = false;
    bool first = false;
    std::exception_ptr error;
    std::optional<T> value;
    asio::steady_timer* waiter = nullptr;
  } b;
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, std::move(beside),
                 asio::bind_cancellation_slot(b.cancel.slot(), [&](std::exception_ptr e, T v) {
                   b.ended = true;
                   if (!stopped) {
                     stopped = true;
                     b.first = true;
                     on_first_end();
                   }
                   b.error = e;
                   if (!e) b.value.emplace(std::move(v));
                   if (b.waiter) b.waiter->cancel();
                 }));
  std::exception_ptr error;
  std::optional<T> value;
  try {
    value.emplace(co_await std::move(here));
  } catch (...) {
    error = std::current_exception();
  }
  if (!stopped) {
    stopped = true;
    on_first_end();
  }
  if (!b.ended) {
    b.cancel.emit(asio::cancellation_type::terminal);
    asio::steady_timer waiter(executor, asio::steady_timer::time_point::max());
    b.waiter = &waiter;
    while (!b.ended) co_await waiter.async_wait(without_cancellation());
    b.waiter = nullptr;
  }
  if (b.first) {
    if (b.error) std::rethrow_exception(b.error);
    co_return std::move(*b.value);
  }
  if (error) std::rethrow_exception(error);
  co_return std::move(*value);
}

}  // namespace tp::net
