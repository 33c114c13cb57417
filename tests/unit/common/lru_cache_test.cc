#include "common/lru_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace tp {
namespace {

TEST(LruCacheTest, FindsWhatWasPutAndNothingElse) {
  LruCache<std::string, int> cache(4);
  EXPECT_EQ(cache.find("a"), std::nullopt);
  cache.put("a", 1);
  cache.put("b", 2);
  EXPECT_EQ(cache.find("a"), 1);
  EXPECT_EQ(cache.find("b"), 2);
  EXPECT_EQ(cache.find("c"), std::nullopt);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(LruCacheTest, PutReplacesTheValueOfAKnownKey) {
  LruCache<std::string, int> cache(4);
  cache.put("a", 1);
  cache.put("a", 7);
  EXPECT_EQ(cache.find("a"), 7);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(LruCacheTest, ForgetsTheLeastRecentlyUsedWhenFull) {
  LruCache<std::string, int> cache(3);
  cache.put("a", 1);
  cache.put("b", 2);
  cache.put("c", 3);
  ASSERT_EQ(cache.find("a"), 1);  // "b" is now the least recently used
  cache.put("d", 4);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find("b"), std::nullopt);
  EXPECT_EQ(cache.find("a"), 1);
  EXPECT_EQ(cache.find("c"), 3);
  EXPECT_EQ(cache.find("d"), 4);
  cache.put("c", 30);  // replacing counts as a use: "a" goes next
  cache.put("e", 5);
  EXPECT_EQ(cache.find("a"), std::nullopt);
  EXPECT_EQ(cache.find("c"), 30);
}

TEST(LruCacheTest, KeepsItsBoundUnderConcurrentUse) {
  LruCache<int, int> cache(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        int key = (i * 7 + t) % 64;
        if (auto v = cache.find(key)) {
          EXPECT_EQ(*v, key * 10);
        }
        cache.put(key, key * 10);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(cache.size(), 16u);
}

}  // namespace
}  // namespace tp
