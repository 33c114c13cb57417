// In-process delivery of backend writes to watchers (Backend::watch). The
// backend publishes each committed batch while it still holds its write lock,
// so every watcher sees events in commit order.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace tp::backend_internal {

// A watcher that falls this far behind loses its oldest events (see publish).
inline constexpr size_t kDefaultWatchQueueCapacity = 10'000;

class EventFanout {
 public:
  explicit EventFanout(size_t queue_capacity = kDefaultWatchQueueCapacity);
  ~EventFanout();
  EventFanout(const EventFanout&) = delete;
  EventFanout& operator=(const EventFanout&) = delete;

  // The watcher may outlive this object; it then drains what it has and
  // afterwards returns nullopt at once.
  std::unique_ptr<Watcher> subscribe(std::string prefix);

  // Appends each event to the queue of every live watcher whose prefix the key
  // starts with. A full queue drops its oldest event to make room, so a slow
  // watcher can never grow memory without bound or stall writers; it logs a
  // warning once per overflow episode. Callers that must not miss changes
  // re-read with range() after a gap in revisions.
  void publish(const std::vector<Event>& events);

  // Wakes every watcher; used when the backend closes.
  void close();

  struct Queue;  // one per watcher; defined in event_fanout.cc

 private:
  const size_t capacity_;
  std::mutex mu_;
  bool closed_ = false;
  std::vector<std::weak_ptr<Queue>> queues_;
};

}  // namespace tp::backend_internal
