#include "net/io_pool.h"

#include <algorithm>
#include <thread>

namespace tp::net {

IoPool::IoPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: one thread runs each loop, so handlers it posts itself skip the lock.
    loops_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(loops_.back()->get_executor());
  }
}

boost::asio::io_context& IoPool::next() {
  return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

void IoPool::run() {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < loops_.size(); ++i) threads.emplace_back([loop = loops_[i].get()] { loop->run(); });
  loops_.front()->run();
  for (auto& t : threads) t.join();
}

void IoPool::stop() {
  for (auto& loop : loops_) loop->stop();
}

}  // namespace tp::net
