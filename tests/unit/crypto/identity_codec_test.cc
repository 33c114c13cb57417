#include "crypto/internal/identity_codec.h"

#include <gtest/gtest.h>

namespace tp::crypto_internal {
namespace {

TEST(IdentityJson, HasAStableCompactShape) {
  Identity id;
  id.kind = IdentityKind::kUser;
  id.username = "alice";
  id.roles = {"access"};
  id.traits = {{"db_users", {"alice", "ro"}}};
  id.route = DatabaseRoute{"pg", "postgres", "alice", "app"};
  id.cluster_name = "example.com";
  id.expires = from_unix_seconds(1'700'000'000);  // not part of the JSON

  auto json = identity_to_json(id);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json,
            R"({"cluster_name":"example.com","kind":"user","roles":["access"],)"
            R"("route":{"database":"app","protocol":"postgres","service_name":"pg","username":"alice"},)"
            R"("traits":{"db_users":["alice","ro"]},"username":"alice"})");

  auto back = identity_from_json(*json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  id.expires = {};
  EXPECT_EQ(*back, id);
}

TEST(IdentityJson, HostWithoutRouteOmitsIt) {
  Identity id;
  id.kind = IdentityKind::kHost;
  id.username = "host-1";
  id.roles = {kHostRoleAuth};
  id.cluster_name = "c";
  auto json = identity_to_json(id);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->find("route"), std::string::npos);
  auto back = identity_from_json(*json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, id);
  EXPECT_FALSE(back->route.has_value());
}

TEST(IdentityJson, IgnoresUnknownKeysAndDefaultsOptionalOnes) {
  auto id = identity_from_json(R"({"kind":"user","username":"u","cluster_name":"c","future":1})");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->username, "u");
  EXPECT_TRUE(id->roles.empty());
  EXPECT_TRUE(id->traits.empty());
}

TEST(IdentityJson, RejectsMalformedInput) {
  struct Case {
    const char* json;
    const char* message_part;
  };
  const Case cases[] = {
      {"not json", "not a JSON object"},
      {"[]", "not a JSON object"},
      {R"({"username":"u","cluster_name":"c"})", "missing \"kind\""},
      {R"({"kind":"robot","username":"u","cluster_name":"c"})", "unknown kind \"robot\""},
      {R"({"kind":"user","cluster_name":"c"})", "missing \"username\""},
      {R"({"kind":"user","username":7,"cluster_name":"c"})", "\"username\" must be a string"},
      {R"({"kind":"user","username":"u"})", "missing \"cluster_name\""},
      {R"({"kind":"user","username":"u","cluster_name":"c","roles":"access"})", "\"roles\" must be a list"},
      {R"({"kind":"user","username":"u","cluster_name":"c","roles":[1]})", "\"roles\" must be a list"},
      {R"({"kind":"user","username":"u","cluster_name":"c","traits":[]})", "\"traits\" must be an object"},
      {R"({"kind":"user","username":"u","cluster_name":"c","traits":{"t":"x"}})", "trait \"t\" must be a list"},
      {R"({"kind":"user","username":"u","cluster_name":"c","route":"pg"})", "\"route\" must be an object"},
      {R"({"kind":"user","username":"u","cluster_name":"c","route":{"protocol":"postgres"}})",
       "missing \"service_name\""},
  };
  for (const auto& c : cases) {
    auto id = identity_from_json(c.json);
    ASSERT_FALSE(id.ok()) << c.json;
    EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(id.error().message.find(c.message_part), std::string::npos) << c.json << " -> " << id.error().message;
  }
}

TEST(IdentityJson, RejectsInvalidUtf8) {
  Identity id;
  id.username = "bad\xc3";
  auto json = identity_to_json(id);
  ASSERT_FALSE(json.ok());
  EXPECT_NE(json.error().message.find("UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace tp::crypto_internal
