// The event loops of a `teleport` process: one io_context per thread, and each session on one of
// them for its whole life (nginx's and PgBouncer's model rather than one loop shared by threads).
// A session's reads, writes and timers then never wake another thread: with one loop shared by
// two threads, every completion handed the work to the other thread, 1.9 context switches per
// query in the proxy (bench/results/2026-11-26-tlsstream-loops.md, notes).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string_view>
#include <vector>

namespace tp::net {

// The CPUs this process may run on (its affinity mask), at least 1.
size_t usable_cpus();

// Where a session runs on `loop`. A session's operations must never run on two threads at once: on
// a loop that one thread runs (every IoPool loop) that holds by itself; on a loop that several
// threads may run the session gets a strand of its own.
boost::asio::any_io_executor session_executor(boost::asio::io_context& loop, bool loop_has_one_thread);

// Names each of the `threads` threads of `pool` "<prefix>-<n>" (net: thread names in /proc, see
// common/thread_name.h). Each thread takes one naming task and holds it until every thread has one,
// so no thread is named twice and none is missed; `threads` must be the pool's size.
void name_pool_threads(boost::asio::thread_pool& pool, size_t threads, std::string_view prefix);

class IoPool {
 public:
  // `threads` loops; 0 means one per usable CPU.
  explicit IoPool(size_t threads);

  // The first loop: listeners, the Auth API, timers. It takes sessions too.
  boost::asio::io_context& main() { return *loops_.front(); }
  // The loop for a new session, round robin. Thread-safe.
  boost::asio::io_context& next();
  size_t size() const { return loops_.size(); }
  // Every loop, the main one first.
  std::vector<boost::asio::io_context*> all() const;

  // Runs every loop, the main one on the calling thread; returns once stop() has been called and
  // every loop has returned. The other loops' threads are named tp-loop-1, tp-loop-2, ...; the
  // calling thread keeps its name (the process's, for `teleport start`).
  void run();
  void stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> loops_;
  std::vector<Guard> guards_;  // keep loops without sessions running
  std::atomic<size_t> next_{0};
};

}  // namespace tp::net
