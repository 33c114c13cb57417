#include "db/internal/session_deadline.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>

namespace tp::db::internal {

namespace asio = boost::asio;

// Shared with the timer's handler and the stop hook, which may outlive the session.
struct SessionDeadline::State {
  State(asio::any_io_executor executor, const Clock& clock) : timer(std::move(executor)), clock(clock) {}
  asio::steady_timer timer;
  asio::cancellation_signal signal;
  const Clock& clock;
  TimePoint expires = TimePoint::max();
  bool stop_requested = false;
  bool session_over = false;
  DeadlineReason reached = DeadlineReason::kNone;
};

SessionDeadline::SessionDeadline(asio::any_io_executor executor, const Clock& clock)
    : state_(std::make_shared<State>(std::move(executor), clock)) {}

SessionDeadline::~SessionDeadline() {
  state_->session_over = true;
  state_->timer.cancel();
}

void SessionDeadline::arm(TimePoint expires) {
  state_->expires = expires;
  watch(state_);
}

DeadlineReason SessionDeadline::reached() const {
  return state_->reached;
}

void SessionDeadline::watch(const std::shared_ptr<State>& state) {
  if (state->session_over || state->reached != DeadlineReason::kNone) return;
  if (state->stop_requested) return reach(*state, DeadlineReason::kShutdown);
  const auto left = state->expires - state->clock.now();
  if (left <= TimePoint::duration::zero()) return reach(*state, DeadlineReason::kCertificateExpired);
  // The clock is the wall clock and the timer steady: wake at least daily and look again, which
  // also keeps a far-off expiry from overflowing the timer's duration.
  constexpr std::chrono::hours kLongestWait(24);
  state->timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::min<TimePoint::duration>(left, kLongestWait)));
  state->timer.async_wait([state](boost::system::error_code) { watch(state); });
}

void SessionDeadline::reach(State& state, DeadlineReason why) {
  state.reached = why;
  state.signal.emit(asio::cancellation_type::terminal);
}

SessionDeadline::BoundRead::BoundRead(SessionDeadline& deadline) : state_(*deadline.state_) {}

SessionDeadline::BoundRead::~BoundRead() {
  state_.signal.slot().clear();
}

asio::cancellation_slot SessionDeadline::BoundRead::slot() {
  return state_.signal.slot();
}

std::function<void()> SessionDeadline::stop_hook() {
  return [state = state_] {
    asio::post(state->timer.get_executor(), [state] {
      state->stop_requested = true;
      // Wakes an armed deadline's watch(), which sees the request; before arm() there is no wait.
      state->timer.cancel();
    });
  };
}

}  // namespace tp::db::internal
