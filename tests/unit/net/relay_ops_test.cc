// net::first_to_end, the PostgreSQL engine's relay combinator: whichever side ends first gives the
// result, stops the other, and the combinator completes only once both have ended.
#include "net/relay_ops.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <vector>

#include "unit/common/heap.h"

namespace tp::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A side that waits on `timer` without a cancellation slot, like a relay's socket operations: only
// cancelling the timer (on_first_end, here) ends its wait.
asio::awaitable<int> wait_uncancellable(asio::steady_timer& timer, int value, bool& ended) {
  co_await timer.async_wait(without_cancellation());
  ended = true;
  co_return value;
}

// A side that waits with the coroutine's own cancellation slot: the terminal cancel ends it.
asio::awaitable<int> wait_cancellable(asio::steady_timer& timer, int value, bool& ended) {
  try {
    co_await timer.async_wait(asio::use_awaitable);
  } catch (...) {
    ended = true;
    throw;
  }
  ended = true;
  co_return value;
}

asio::awaitable<int> after(std::chrono::milliseconds delay, int value) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
  co_return value;
}

asio::awaitable<int> fail_after(std::chrono::milliseconds delay) {
  co_await after(delay, 0);
  throw std::runtime_error("side failed");
}

// Never has an operation pending when the other side ends: only `stopped` can stop it.
asio::awaitable<int> spin_until_stopped(const bool& stopped, int& laps) {
  while (!stopped) {
    ++laps;
    co_await asio::post(co_await asio::this_coro::executor, without_cancellation());
  }
  co_return 3;
}

class FirstToEnd : public ::testing::Test {
 protected:
  // Runs `body` to completion; fails the test if it takes longer than `limit`.
  template <class Body>
  void run(Body body, std::chrono::seconds limit = 10s) {
    bool done = false;
    asio::co_spawn(io_, body(), [&](std::exception_ptr e) {
      done = true;
      if (e) std::rethrow_exception(e);
    });
    io_.run_for(limit);
    EXPECT_TRUE(done) << "first_to_end did not complete";
  }

  asio::io_context io_;
};

TEST_F(FirstToEnd, HereEndsFirstAndTheOtherIsCancelled) {
  asio::steady_timer long_wait(io_, 1h);
  bool beside_ended = false;
  int first_ends = 0;
  std::optional<int> result;
  run([&]() -> asio::awaitable<void> {
    bool stopped = false;
    auto on_first_end = [&] { ++first_ends; };
    result = co_await first_to_end(after(1ms, 1), wait_cancellable(long_wait, 2, beside_ended), stopped,
                                   on_first_end);
    EXPECT_TRUE(stopped);
    EXPECT_TRUE(beside_ended) << "completed before the other side ended";
  });
  EXPECT_EQ(result, 1);
  EXPECT_EQ(first_ends, 1);
}

TEST_F(FirstToEnd, BesideEndsFirstAndStopsHere) {
  asio::steady_timer long_wait(io_, 1h);
  bool here_ended = false;
  std::optional<int> result;
  run([&]() -> asio::awaitable<void> {
    bool stopped = false;
    auto on_first_end = [&] { long_wait.cancel(); };  // as a relay cancels what is pending on its sockets
    result = co_await first_to_end(wait_uncancellable(long_wait, 1, here_ended), after(1ms, 2), stopped,
                                   on_first_end);
    EXPECT_TRUE(here_ended);
  });
  EXPECT_EQ(result, 2);
}

TEST_F(FirstToEnd, HereBetweenOperationsSeesTheFlag) {
  int laps = 0;
  std::optional<int> result;
  run([&]() -> asio::awaitable<void> {
    bool stopped = false;
    auto on_first_end = [] {};  // nothing pending to cancel: the flag alone must stop it
    result = co_await first_to_end(spin_until_stopped(stopped, laps), after(5ms, 2), stopped, on_first_end);
  });
  EXPECT_EQ(result, 2);
  EXPECT_GT(laps, 0);
}

TEST_F(FirstToEnd, TheFirstSidesExceptionIsRethrown) {
  asio::steady_timer long_wait(io_, 1h);
  bool beside_ended = false;
  std::string error;
  run([&]() -> asio::awaitable<void> {
    bool stopped = false;
    auto on_first_end = [] {};
    try {
      co_await first_to_end(fail_after(1ms), wait_cancellable(long_wait, 2, beside_ended), stopped,
                            on_first_end);
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  });
  EXPECT_EQ(error, "side failed");
  EXPECT_TRUE(beside_ended);
}

TEST_F(FirstToEnd, TheSecondSidesCancellationIsNotTheResult) {
  // The other side ends with operation_aborted when cancelled; the result is still the first's.
  asio::steady_timer long_wait(io_, 1h);
  bool beside_ended = false;
  std::optional<int> result;
  run([&]() -> asio::awaitable<void> {
    bool stopped = false;
    auto on_first_end = [] {};
    result = co_await first_to_end(after(1ms, 7), wait_cancellable(long_wait, 2, beside_ended), stopped,
                                   on_first_end);
  });
  EXPECT_EQ(result, 7);
}

// What a pair of waiting sides holds, under first_to_end and under `||`: the reason it exists.
TEST_F(FirstToEnd, HoldsLessThanTheOrOperator) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator does not report heap use through mallinfo2";
#endif
  using namespace asio::experimental::awaitable_operators;
  constexpr int kPairs = 50;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  for (int i = 0; i < 4 * kPairs + 4; ++i) timers.push_back(std::make_unique<asio::steady_timer>(io_, 1h));
  auto held = [&](auto start) {
    io_.restart();
    io_.poll();
    const long before = testing::heap_in_use();
    for (int i = 0; i < kPairs; ++i) start(i);
    io_.restart();
    io_.poll();
    return (testing::heap_in_use() - before) / kPairs;
  };
  bool stopped[kPairs] = {};
  bool unused[kPairs] = {};
  auto nothing = [] {};
  const long ours = held([&](int i) {
    asio::co_spawn(io_,
                   first_to_end(wait_cancellable(*timers[2 * i], 1, unused[i]),
                                wait_cancellable(*timers[2 * i + 1], 2, unused[i]), stopped[i], nothing),
                   asio::detached);
  });
  const long theirs = held([&](int i) {
    const int k = 2 * kPairs + 2 * i;
    asio::co_spawn(
        io_, wait_cancellable(*timers[k], 1, unused[i]) || wait_cancellable(*timers[k + 1], 2, unused[i]),
        asio::detached);
  });
  EXPECT_LT(ours + 512, theirs) << "first_to_end holds " << ours << " bytes a pair, || " << theirs;
  for (auto& t : timers) t->cancel();
  io_.restart();
  io_.run_for(5s);
}

}  // namespace
}  // namespace tp::net
