// IoPool: sessions spread round robin over loops that each run on a thread of their own, named
// for what they are, and stop() ends run(); name_pool_threads names every thread of a pool once.
#include "net/io_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "common/thread_name.h"

namespace tp::net {
namespace {

TEST(IoPool, NextGoesRoundTheLoops) {
  IoPool pool(3);
  ASSERT_EQ(pool.size(), 3u);
  std::vector<boost::asio::io_context*> seen;
  for (int i = 0; i < 6; ++i) seen.push_back(&pool.next());
  EXPECT_EQ(std::set<boost::asio::io_context*>(seen.begin(), seen.end()).size(), 3u);
  EXPECT_EQ(seen[0], seen[3]);
  EXPECT_EQ(seen[1], seen[4]);
  EXPECT_EQ(&pool.main(), seen[0]);
}

TEST(IoPool, ZeroMeansOnePerUsableCpu) {
  IoPool pool(0);
  EXPECT_EQ(pool.size(), usable_cpus());
  EXPECT_GE(usable_cpus(), 1u);
  EXPECT_LE(usable_cpus(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(IoPool, EachLoopRunsOnItsOwnThreadUntilStopped) {
  IoPool pool(3);
  std::thread runner([&] { pool.run(); });  // the "main" thread of this pool
  std::set<std::thread::id> threads;
  for (int i = 0; i < 3; ++i) {
    std::promise<std::thread::id> where;
    boost::asio::post(pool.next(), [&where] { where.set_value(std::this_thread::get_id()); });
    threads.insert(where.get_future().get());
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(runner.get_id()), 1u);  // the main loop runs on the caller of run()
  pool.stop();
  runner.join();  // returns: loops without work do not keep run() going once stopped
}

TEST(IoPool, LoopThreadsAreNamedAndTheCallerKeepsItsName) {
  IoPool pool(3);
  std::thread runner([&] {
    set_thread_name("io-pool-runner");
    pool.run();
  });
  std::set<std::string> names;
  for (int i = 0; i < 3; ++i) {
    std::promise<std::string> name;
    boost::asio::post(pool.next(), [&name] { name.set_value(current_thread_name()); });
    names.insert(name.get_future().get());
  }
  pool.stop();
  runner.join();
  EXPECT_EQ(names, (std::set<std::string>{"io-pool-runner", "tp-loop-1", "tp-loop-2"}));
}

TEST(NamePoolThreads, NamesEveryThreadOnce) {
  constexpr size_t kThreads = 4;
  boost::asio::thread_pool pool(kThreads);
  name_pool_threads(pool, kThreads, "tp-test");
  // Whatever thread runs a task now carries one of the four names; hold four tasks at once so
  // that all four threads report.
  std::mutex mu;
  std::set<std::string> names;
  std::latch together(kThreads);
  for (size_t i = 0; i < kThreads; ++i) {
    boost::asio::post(pool, [&] {
      {
        std::lock_guard lock(mu);
        names.insert(current_thread_name());
      }
      together.arrive_and_wait();
    });
  }
  pool.join();
  EXPECT_EQ(names, (std::set<std::string>{"tp-test-0", "tp-test-1", "tp-test-2", "tp-test-3"}));
}

TEST(ThreadName, LongNamesAreCutAtFifteenCharacters) {
  std::string seen;
  std::thread t([&] {
    set_thread_name("a-name-longer-than-fifteen");
    seen = current_thread_name();
  });
  t.join();
  EXPECT_EQ(seen, "a-name-longer-t");
}

// A loop with one thread needs no strand per session; one that several threads may run does.
TEST(IoPool, ASessionGetsAStrandOnlyOnALoopSeveralThreadsMayRun) {
  boost::asio::io_context loop;
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  auto plain = session_executor(loop, true);
  EXPECT_EQ(plain.target<Strand>(), nullptr);
  EXPECT_NE(plain.target<boost::asio::io_context::executor_type>(), nullptr);
  auto stranded = session_executor(loop, false);
  ASSERT_NE(stranded.target<Strand>(), nullptr);
  EXPECT_EQ(&stranded.target<Strand>()->context(), &loop);
}

}  // namespace
}  // namespace tp::net
