// The sessions an agent is running, for a graceful shutdown: stop accepting,
// wait for sessions to end up to a grace period, then ask the rest to end.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

namespace tp::db {

class SessionTracker {
 public:
  // Keeps a session counted while alive.
  class Registration {
   public:
    Registration(SessionTracker* tracker, uint64_t id) : tracker_(tracker), id_(id) {}
    Registration(Registration&& o) noexcept : tracker_(o.tracker_), id_(o.id_) { o.tracker_ = nullptr; }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() {
      if (tracker_) tracker_->remove(id_);
    }

   private:
    SessionTracker* tracker_;
    uint64_t id_;
  };

  // `stop` asks the session to end soon (called from any thread, at most once).
  Registration add(std::function<void()> stop);
  size_t active() const;
  // Blocks until no session is running or the timeout passes; true when idle.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Asks every running session to end.
  void stop_all();

 private:
  void remove(uint64_t id);

  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::map<uint64_t, std::function<void()>> sessions_;
  uint64_t next_id_ = 1;
};

}  // namespace tp::db
