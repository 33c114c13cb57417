#include "db/postgres/cancel_registry.h"

#include <gtest/gtest.h>

namespace tp::db {
namespace {

CancelTarget target(int32_t pid, const std::string& user) {
  CancelTarget t;
  t.upstream = {"127.0.0.1", 5432};
  t.upstream_key = {pid, 99};
  t.user = user;
  return t;
}

TEST(CancelRegistry, TheClientSeesOurKeyNeverTheServers) {
  CancelRegistry registry(crypto_rng());
  std::set<CancelKey> seen;
  for (int i = 0; i < 200; ++i) {
    CancelKey key = registry.issue(target(1234, "alice"));
    EXPECT_GT(key.process_id, 0);
    EXPECT_FALSE(key.process_id == 1234 && key.secret_key == 99);
    EXPECT_TRUE(seen.insert(key).second) << "keys are unique";
  }
  EXPECT_EQ(registry.size(), 200u);
}

TEST(CancelRegistry, FindsTheUpstreamKeyUntilReleased) {
  CancelRegistry registry(crypto_rng());
  CancelKey key = registry.issue(target(1234, "alice"));
  auto found = registry.find(key);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->upstream_key.process_id, 1234);
  EXPECT_EQ(found->upstream_key.secret_key, 99);
  EXPECT_EQ(found->user, "alice");
  EXPECT_FALSE(registry.find({key.process_id, key.secret_key + 1}).has_value()) << "the secret must match";
  registry.release(key);
  EXPECT_FALSE(registry.find(key).has_value());
}

}  // namespace
}  // namespace tp::db
