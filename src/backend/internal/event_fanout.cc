#include "backend/internal/event_fanout.h"

#include <condition_variable>
#include <deque>
#include <utility>

#include "common/log.h"

namespace tp::backend_internal {

struct EventFanout::Queue {
  Queue(std::string p, size_t cap) : prefix(std::move(p)), capacity(cap) {}

  const std::string prefix;
  const size_t capacity;
  std::mutex mu;
  std::condition_variable ready;
  std::deque<Event> events;
  bool closed = false;
  bool overflowing = false;  // true from the first drop until the queue drains
};

namespace {

class QueueWatcher final : public Watcher {
 public:
  explicit QueueWatcher(std::shared_ptr<EventFanout::Queue> q) : q_(std::move(q)) {}

  std::optional<Event> next(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(q_->mu);
    q_->ready.wait_for(lock, timeout, [&] { return !q_->events.empty() || q_->closed; });
    if (q_->events.empty()) return std::nullopt;
    Event e = std::move(q_->events.front());
    q_->events.pop_front();
    if (q_->events.empty()) q_->overflowing = false;
    return e;
  }

 private:
  std::shared_ptr<EventFanout::Queue> q_;
};

}  // namespace

EventFanout::EventFanout(size_t queue_capacity) : capacity_(queue_capacity == 0 ? 1 : queue_capacity) {}

EventFanout::~EventFanout() { close(); }

std::unique_ptr<Watcher> EventFanout::subscribe(std::string prefix) {
  auto q = std::make_shared<Queue>(std::move(prefix), capacity_);
  std::lock_guard lock(mu_);
  q->closed = closed_;
  queues_.push_back(q);
  return std::make_unique<QueueWatcher>(std::move(q));
}

void EventFanout::publish(const std::vector<Event>& events) {
  if (events.empty()) return;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < queues_.size();) {
    auto q = queues_[i].lock();
    if (!q) {  // the watcher was destroyed
      queues_[i] = std::move(queues_.back());
      queues_.pop_back();
      continue;
    }
    ++i;
    bool delivered = false;
    std::lock_guard qlock(q->mu);
    for (const Event& e : events) {
      if (e.item.key.compare(0, q->prefix.size(), q->prefix) != 0) continue;
      if (q->events.size() >= q->capacity) {
        q->events.pop_front();
        if (!q->overflowing) {
          q->overflowing = true;
          log::warn("backend", "watcher fell behind; dropping its oldest events",
                    {{"prefix", q->prefix}, {"capacity", std::to_string(q->capacity)}});
        }
      }
      q->events.push_back(e);
      delivered = true;
    }
    if (delivered) q->ready.notify_all();
  }
}

void EventFanout::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (auto& weak : queues_) {
    if (auto q = weak.lock()) {
      std::lock_guard qlock(q->mu);
      q->closed = true;
      q->ready.notify_all();
    }
  }
  queues_.clear();
}

}  // namespace tp::backend_internal
