#include "proxy/database_route.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace tp::proxy {
namespace {

DatabaseServer server(const std::string& host, const std::string& db, const std::string& protocol = "postgres") {
  DatabaseServer s;
  s.host_id = host;
  s.database.name = db;
  s.database.protocol = protocol;
  return s;
}

Identity user_with_route(std::optional<DatabaseRoute> route) {
  Identity id;
  id.username = "alice";
  id.route = std::move(route);
  return id;
}

TEST(DatabaseRouteTest, ClientNeedsADatabaseCertificate) {
  auto r = route_for_client(user_with_route(std::nullopt), "postgres");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tsh db login"), std::string::npos);
}

TEST(DatabaseRouteTest, ProtocolMustMatch) {
  auto id = user_with_route(DatabaseRoute{"my", "mysql", "alice", ""});
  auto r = route_for_client(id, "postgres");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("speaks mysql"), std::string::npos);
  auto ok = route_for_client(id, "mysql");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->service_name, "my");
}

TEST(DatabaseRouteTest, AgentsAreTheConnectedOnesEachOnce) {
  std::vector<DatabaseServer> servers = {server("a", "pg"), server("b", "pg"), server("c", "pg"), server("a", "pg")};
  SequenceRng rng;
  auto hosts = agents_to_try(servers, {"c", "a", "z"}, rng);
  std::set<std::string> got(hosts.begin(), hosts.end());
  EXPECT_EQ(hosts.size(), 2u);
  EXPECT_EQ(got, (std::set<std::string>{"a", "c"}));
  EXPECT_TRUE(agents_to_try(servers, {}, rng).empty());
}

TEST(DatabaseRouteTest, AgentOrderIsShuffled) {
  std::vector<DatabaseServer> servers;
  std::vector<std::string> connected;
  for (int i = 0; i < 8; ++i) {
    servers.push_back(server("h" + std::to_string(i), "pg"));
    connected.push_back("h" + std::to_string(i));
  }
  CryptoRng rng;
  std::set<std::string> firsts;
  for (int i = 0; i < 50; ++i) firsts.insert(agents_to_try(servers, connected, rng).front());
  EXPECT_GT(firsts.size(), 1u);  // 8^-49 chance of a false failure
}

TEST(DatabaseRouteTest, CancelGoesToConnectedPostgresAgents) {
  std::vector<DatabaseServer> servers = {server("a", "pg"), server("b", "my", "mysql"), server("c", "pg2"),
                                         server("d", "pg")};
  auto all = cancel_targets(servers, {"a", "b", "c"});
  EXPECT_EQ(all, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(cancel_targets(servers, {"a", "b", "c"}, "pg2"), std::vector<std::string>{"c"});
}

TEST(DatabaseRouteTest, NoAgentErrorNamesTheDatabase) {
  Error e = no_agent_error("rds-example");
  EXPECT_EQ(e.code, ErrorCode::kUnavailable);
  EXPECT_NE(e.message.find("no Database Service for \"rds-example\" is connected"), std::string::npos);
}

TEST(DatabaseRouteTest, SessionIdsLookLikeUuids) {
  SequenceRng rng;
  std::string id = new_session_id(rng);
  EXPECT_EQ(id, "00010203-0405-0607-0809-0a0b0c0d0e0f");
}

}  // namespace
}  // namespace tp::proxy
