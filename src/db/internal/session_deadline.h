// When a session must end even though both sides are still talking: the
// client's certificate expires, or the agent shuts down. wait() completes at
// that moment; engines race it against reads so they can end the session
// cleanly, between two protocol messages.
#pragma once

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>

#include "common/clock.h"

namespace tp::db::internal {

enum class DeadlineReason { kNone, kCertificateExpired, kShutdown };

class SessionDeadline {
 public:
  SessionDeadline(boost::asio::any_io_executor executor, const Clock& clock, TimePoint expires)
      : state_(std::make_shared<State>(executor)), clock_(clock), expires_(expires) {}

  // Completes when the deadline arrives; returns kNone when the waiting
  // coroutine was cancelled first (e.g. the read it raced won).
  boost::asio::awaitable<DeadlineReason> wait() {
    while (true) {
      if (state_->stop_requested) co_return DeadlineReason::kShutdown;
      auto left = expires_ - clock_.now();
      if (left <= TimePoint::duration::zero()) co_return DeadlineReason::kCertificateExpired;
      state_->timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(left));
      co_await state_->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      auto cancellation = co_await boost::asio::this_coro::cancellation_state;
      if (cancellation.cancelled() != boost::asio::cancellation_type::none && !state_->stop_requested)
        co_return DeadlineReason::kNone;
    }
  }

  // Before the first wait(), on the session's executor.
  void set_expires(TimePoint expires) { expires_ = expires; }

  // From any thread, even after the session ended: posts to the session's executor.
  std::function<void()> stop_hook() {
    return [state = state_] {
      boost::asio::post(state->timer.get_executor(), [state] {
        state->stop_requested = true;
        state->timer.cancel();
      });
    };
  }

 private:
  struct State {
    explicit State(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
    boost::asio::steady_timer timer;
    std::atomic<bool> stop_requested{false};
  };
  std::shared_ptr<State> state_;
  const Clock& clock_;
  TimePoint expires_;
};

}  // namespace tp::db::internal
