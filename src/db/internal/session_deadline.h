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

  // One read bound to the deadline, for as long as it is pending: reaching the deadline cancels
  // the operation that binds slot(). Nothing else does: the relay stops the read by cancelling the
  // socket (net/relay_ops.h). On destruction nothing is left bound, so a later deadline cannot
  // reach an operation that has finished.
  class BoundRead {
   public:
    explicit BoundRead(SessionDeadline& deadline);
    ~BoundRead();
    BoundRead(const BoundRead&) = delete;
    BoundRead& operator=(const BoundRead&) = delete;
    boost::asio::cancellation_slot slot();

   private:
    State& state_;
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
