// When a session must end even though both sides are still talking: the
// client's certificate expires, or the agent shuts down. Once armed, one timer
// per session watches for that moment; when it comes, reached() names why and
// the read bound to the deadline (read_or_deadline, stream_io.h) is cancelled,
// so the engine can end the session cleanly, between two protocol messages.
// A read costs no timer and no parallel group: the per-message `||` race this
// replaces was a few per cent of the agent's CPU per query.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>

#include "common/clock.h"

namespace tp::db::internal {

enum class DeadlineReason { kNone, kCertificateExpired, kShutdown };

class SessionDeadline {
 private:
  struct State;

 public:
  // `clock` must outlive the session.
  SessionDeadline(boost::asio::any_io_executor executor, const Clock& clock);
  ~SessionDeadline();
  SessionDeadline(const SessionDeadline&) = delete;
  SessionDeadline& operator=(const SessionDeadline&) = delete;

  // On the session's executor, once, when the relay starts. A stop requested before this
  // is reached at once.
  void arm(TimePoint expires);

  // Why the session must end, or kNone. On the session's executor.
  DeadlineReason reached() const;

  // One read bound to the deadline, for as long as it is pending: reaching the deadline, or the
  // reading coroutine's own cancellation (`own`, e.g. the relay's `||` ending this direction),
  // cancels the operation that binds slot(). On destruction nothing is left bound, so a later
  // deadline cannot reach an operation that has finished.
  class BoundRead {
   public:
    BoundRead(SessionDeadline& deadline, boost::asio::cancellation_slot own);
    ~BoundRead();
    BoundRead(const BoundRead&) = delete;
    BoundRead& operator=(const BoundRead&) = delete;
    boost::asio::cancellation_slot slot();

   private:
    State& state_;
    boost::asio::cancellation_slot own_;
  };

  // From any thread, even after the session ended: posts to the session's executor.
  std::function<void()> stop_hook();

 private:
  // Arms the timer for what is left, or reaches the deadline if nothing is.
  static void watch(const std::shared_ptr<State>& state);
  static void reach(State& state, DeadlineReason why);

  std::shared_ptr<State> state_;
};

}  // namespace tp::db::internal
