#include "common/byte_queue.h"

#include <gtest/gtest.h>

#include <string>

#include "unit/common/heap.h"

namespace tp {
namespace {

std::string pattern(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (seed + i * 7) % 26);
  return s;
}

std::string take(ByteQueue& q, size_t max) {
  std::string out(max, '\0');
  out.resize(q.take(out.data(), max));
  return out;
}

TEST(ByteQueueTest, BytesComeOutInTheOrderTheyWentInWhateverTheSizes) {
  ByteQueue q;
  std::string in, out;
  // Appends and takes of sizes around the block limits, interleaved, as a stream's frames and its
  // reader's buffer would be.
  const size_t appends[] = {1, 100, 4096, 4097, 32768, 65536, 70000, 3, 200000, 16384};
  const size_t takes[] = {7, 65536, 1, 4096, 100000, 50, 16384};
  size_t t = 0;
  for (size_t i = 0; i < std::size(appends); ++i) {
    const std::string chunk = pattern(appends[i], i);
    q.append(chunk);
    in += chunk;
    EXPECT_EQ(q.size(), in.size() - out.size());
    out += take(q, takes[t++ % std::size(takes)]);
    EXPECT_EQ(q.size(), in.size() - out.size());
  }
  while (!q.empty()) out += take(q, 12345);
  EXPECT_EQ(out, in);
  EXPECT_EQ(take(q, 10), "");
}

TEST(ByteQueueTest, ATakeStopsAtWhatIsQueued) {
  ByteQueue q;
  q.append("hello");
  q.append(" world");
  EXPECT_EQ(take(q, 3), "hel");
  EXPECT_EQ(take(q, 100), "lo world");
  EXPECT_TRUE(q.empty());
  q.append("");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(take(q, 0), "");
}

TEST(ByteQueueTest, ADrainedQueueHoldsNoMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator keeps no mallinfo2 count";
#endif
  auto q = std::make_unique<ByteQueue>();
  const std::string chunk = pattern(32768, 1);
  std::string sink(100000, '\0');
  const long before = testing::heap_in_use();
  for (int i = 0; i < 40; ++i) q->append(chunk);  // 1.25 MiB queued
  EXPECT_GT(testing::heap_in_use() - before, 1'000'000);
  while (!q->empty()) q->take(sink.data(), sink.size());
  EXPECT_LT(testing::heap_in_use() - before, long{ByteQueue::kMinBlock});  // not even one block
}

}  // namespace
}  // namespace tp
