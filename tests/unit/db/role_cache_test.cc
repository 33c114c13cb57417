#include "db/role_cache.h"

#include <gtest/gtest.h>

namespace tp::db {
namespace {

Role named(const std::string& name) {
  Role r;
  r.name = name;
  return r;
}

struct Fixture {
  FakeClock clock{from_unix_seconds(1'700'000'000)};
  int fetches = 0;
  bool fail = false;
  std::vector<Role> roles{named("access"), named("dba")};
  RoleCache cache{[this]() -> Result<std::vector<Role>> {
                    ++fetches;
                    if (fail) return unavailable("auth down");
                    return roles;
                  },
                  clock, std::chrono::seconds(3), std::chrono::seconds(60)};
};

TEST(RoleCache, ABurstOfLookupsCostsOneFetch) {
  Fixture f;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.cache.roles_named({"access"}).ok());
  EXPECT_EQ(f.fetches, 1);
  f.clock.advance(std::chrono::seconds(4));
  ASSERT_TRUE(f.cache.roles_named({"access"}).ok());
  EXPECT_EQ(f.fetches, 2) << "refreshed after the TTL";
}

TEST(RoleCache, ReturnsTheNamedRolesInOrder) {
  Fixture f;
  auto roles = f.cache.roles_named({"dba", "access"});
  ASSERT_TRUE(roles.ok());
  ASSERT_EQ(roles->size(), 2u);
  EXPECT_EQ((*roles)[0].name, "dba");
  EXPECT_EQ((*roles)[1].name, "access");
}

TEST(RoleCache, AMissingRoleIsAnError) {
  Fixture f;
  auto roles = f.cache.roles_named({"access", "gone"});
  ASSERT_FALSE(roles.ok());
  EXPECT_EQ(roles.error().code, ErrorCode::kNotFound);
  EXPECT_NE(roles.error().message.find("gone"), std::string::npos);
}

TEST(RoleCache, ARoleCreatedSinceTheLastFetchIsFoundAtOnce) {
  Fixture f;
  ASSERT_TRUE(f.cache.roles_named({"access"}).ok());
  f.roles.push_back(named("new-role"));
  auto roles = f.cache.roles_named({"new-role"});
  ASSERT_TRUE(roles.ok()) << "a missing name forces a fresh fetch within the TTL";
  EXPECT_EQ(f.fetches, 2);
}

TEST(RoleCache, ServesStaleRolesForAWhileWhenTheAuthServiceIsAway) {
  Fixture f;
  ASSERT_TRUE(f.cache.roles_named({"access"}).ok());
  f.fail = true;
  f.clock.advance(std::chrono::seconds(10));
  EXPECT_TRUE(f.cache.roles_named({"access"}).ok());
  f.clock.advance(std::chrono::seconds(60));
  auto roles = f.cache.roles_named({"access"});
  ASSERT_FALSE(roles.ok()) << "too old to trust";
  EXPECT_EQ(roles.error().code, ErrorCode::kUnavailable);
}

TEST(RoleCache, NothingFetchedYetAndAuthAwayIsAnError) {
  Fixture f;
  f.fail = true;
  EXPECT_FALSE(f.cache.roles_named({"access"}).ok());
}

}  // namespace
}  // namespace tp::db
