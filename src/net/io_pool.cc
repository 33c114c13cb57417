#include "net/io_pool.h"

#include <sched.h>

#include <algorithm>
#include <boost/asio/strand.hpp>
#include <thread>

namespace tp::net {

size_t usable_cpus() {
  // The CPUs this process may run on (taskset, a container's cpuset), not every CPU of the host.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

IoPool::IoPool(size_t threads) {
  if (threads == 0) threads = usable_cpus();
  for (size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: one thread runs each loop, so handlers it posts itself skip the lock.
    loops_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(loops_.back()->get_executor());
  }
}

boost::asio::any_io_executor session_executor(boost::asio::io_context& loop, bool loop_has_one_thread) {
  if (loop_has_one_thread) return loop.get_executor();
  return boost::asio::make_strand(loop);
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
