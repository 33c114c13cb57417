#include "net/io_pool.h"

#include <sched.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/thread_name.h"

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

std::vector<boost::asio::io_context*> IoPool::all() const {
  std::vector<boost::asio::io_context*> out;
  for (const auto& loop : loops_) out.push_back(loop.get());
  return out;
}

boost::asio::io_context& IoPool::next() {
  return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

void name_pool_threads(boost::asio::thread_pool& pool, size_t threads, std::string_view prefix) {
  // Shared with the tasks: a task may still be returning from its wait when this function returns.
  struct Rendezvous {
    std::mutex mu;
    std::condition_variable cv;
    size_t arrived = 0;
  };
  auto r = std::make_shared<Rendezvous>();
  // Bounded: a pool smaller than `threads` (a caller's mistake) gets names late, never a hang.
  constexpr auto kPatience = std::chrono::seconds(5);
  for (size_t i = 0; i < threads; ++i) {
    boost::asio::post(pool, [r, threads, kPatience, name = std::string(prefix) + "-" + std::to_string(i)] {
      set_thread_name(name);
      std::unique_lock lock(r->mu);
      ++r->arrived;
      r->cv.notify_all();
      r->cv.wait_for(lock, kPatience, [&] { return r->arrived >= threads; });
    });
  }
  std::unique_lock lock(r->mu);
  r->cv.wait_for(lock, kPatience, [&] { return r->arrived >= threads; });
}

void IoPool::run() {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < loops_.size(); ++i) {
    threads.emplace_back([loop = loops_[i].get(), i] {
      set_thread_name("tp-loop-" + std::to_string(i));
      loop->run();
    });
  }
  loops_.front()->run();
  for (auto& t : threads) t.join();
}

void IoPool::stop() {
  for (auto& loop : loops_) loop->stop();
}

}  // namespace tp::net
