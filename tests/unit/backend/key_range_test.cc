#include "backend/internal/key_range.h"

#include <gtest/gtest.h>

namespace tp::backend_internal {
namespace {

TEST(PrefixUpperBound, IncrementsTheLastByte) {
  EXPECT_EQ(prefix_upper_bound("/users/"), "/users0");
  EXPECT_EQ(prefix_upper_bound("a"), "b");
  EXPECT_EQ(prefix_upper_bound("/a%"), "/a&");
  EXPECT_EQ(prefix_upper_bound("/a_"), "/a`");
  EXPECT_EQ(prefix_upper_bound("\x7f"), "\x80");
}

TEST(PrefixUpperBound, CarriesPastTrailingFFBytes) {
  EXPECT_EQ(prefix_upper_bound("a\xff"), "b");
  EXPECT_EQ(prefix_upper_bound("a\xfe\xff\xff"), "a\xff");
}

TEST(PrefixUpperBound, NoneWhenEveryStringMatches) {
  EXPECT_EQ(prefix_upper_bound(""), std::nullopt);
  EXPECT_EQ(prefix_upper_bound("\xff\xff"), std::nullopt);
}

TEST(PrefixUpperBound, BoundsExactlyTheKeysWithThePrefix) {
  const std::string prefix = "/db/";
  const std::string upper = *prefix_upper_bound(prefix);
  for (std::string key : {"/db/", "/db/a", "/db/\xff\xff"}) {
    EXPECT_TRUE(key >= prefix && key < upper) << key;
  }
  for (std::string key : {"/db", "/db0", "/dc", "/da/\xff"}) {
    EXPECT_FALSE(key >= prefix && key < upper) << key;
  }
}

}  // namespace
}  // namespace tp::backend_internal
