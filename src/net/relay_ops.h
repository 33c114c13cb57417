// How a relay's two directions stop each other without a cancellation slot on every operation.
//
// A relay awaits its two directions with `||`. Under `||`, every read, wait and write inherits its
// coroutine's cancellation slot: it installs a cancellation handler and clears it again, a few per
// cent of a proxying process's CPU per query. So a relay's per-message operations take no slot
// (without_cancellation), and the direction that ends first cancels what is pending on both
// sockets (cancel_pending). A direction caught between two operations is still stopped by `||`:
// its coroutine is marked cancelled, so its next co_await throws operation_aborted.
//
// Call cancel_pending after the direction returns, or when it throws; not from a destructor: a
// coroutine frame destroyed along with its io_context may outlive the streams.
// Asio heavy: include only from .cc files.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

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

}  // namespace tp::net
