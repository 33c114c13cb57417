#include "db/session_tracker.h"

#include <vector>

namespace tp::db {

SessionTracker::Registration SessionTracker::add(std::function<void()> stop) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  sessions_.emplace(id, std::move(stop));
  return Registration(this, id);
}

void SessionTracker::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
  if (sessions_.empty()) idle_.notify_all();
}

size_t SessionTracker::active() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

bool SessionTracker::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, timeout, [&] { return sessions_.empty(); });
}

void SessionTracker::stop_all() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, stop] : sessions_)
      if (stop) hooks.push_back(std::exchange(stop, nullptr));
  }
  for (auto& stop : hooks) stop();
}

}  // namespace tp::db
