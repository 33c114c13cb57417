// teleport.yaml loading: defaults, the guide's generated config, and errors that name the key path.
#include "service/config.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

TEST(Config, AllInOne) {
  auto c = parse_config(R"(version: v3
teleport:
  data_dir: /tmp/x
auth_service:
  cluster_name: example
proxy_service:
  web_listen_addr: 127.0.0.1:3080
  postgres_listen_addr: 127.0.0.1:5433
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->auth.enabled);
  EXPECT_TRUE(c->proxy.enabled);
  EXPECT_FALSE(c->db.enabled);
  EXPECT_EQ(c->auth.listen_addr, "0.0.0.0:3025");
  EXPECT_EQ(c->proxy.postgres_listen_addr, "127.0.0.1:5433");
  EXPECT_EQ(c->io_threads, 0u);  // one event loop per CPU
}

TEST(Config, IoThreads) {
  auto c = parse_config("teleport: {io_threads: 3}\nauth_service: {cluster_name: x}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->io_threads, 3u);
}

TEST(Config, GeneratedDbConfigLoads) {
  DbConfigureOptions o;
  o.name = "rds-example";
  o.proxy = "teleport.example.com:443";
  o.protocol = "postgres";
  o.uri = "myrds.abc.us-east-1.rds.amazonaws.com:5432";
  o.labels = "env=dev";
  o.token = "/tmp/token";
  auto text = render_db_config(o);
  ASSERT_TRUE(text.ok()) << text.error().message;
  auto c = parse_config(*text);
  ASSERT_TRUE(c.ok()) << c.error().message << "\n" << *text;
  EXPECT_TRUE(c->db.enabled);
  EXPECT_FALSE(c->auth.enabled);
  EXPECT_EQ(c->proxy_server, "teleport.example.com:443");
  EXPECT_EQ(c->auth_token, "/tmp/token");
  ASSERT_EQ(c->db.databases.size(), 1u);
  const auto& db = c->db.databases[0];
  EXPECT_EQ(db.name, "rds-example");
  EXPECT_EQ(db.static_labels.at("env"), "dev");
  EXPECT_TRUE(db.iam_auth());
}

TEST(Config, ErrorsNameTheKeyPath) {
  struct Case {
    const char* yaml;
    const char* expected;
  } cases[] = {
      {"teleport: {data_dir: /x}\ndb_service:\n  databases:\n  - name: a\n    protocol: postgres\n", "db_service.databases[0].uri: missing"},
      {"teleport: {proxy_server: 'p:1'}\ndb_service:\n  databases:\n  - {name: a, protocol: oracle, uri: 'h:1'}\n", "db_service.databases[0].protocol: \"oracle\""},
      {"teleport: {proxy_server: 'p:1'}\ndb_service:\n  databases:\n  - {name: a, protocol: postgres, uri: 'h'}\n", "db_service.databases[0].uri"},
      {"auth_service:\n  cluster_name: x\n  listen_adr: 1.2.3.4:5\n", "auth_service.listen_adr: unknown key"},
      {"auth_service:\n  listen_addr: nope\n", "auth_service.listen_addr: \"nope\" is not host:port"},
      {"db_service:\n  databases: []\n", "teleport.proxy_server: missing"},
      {"proxy_service: {}\n", "same process as the auth service"},
      {"teleport: {}\n", "no service is enabled"},
      {"auth_service: [\n", "invalid YAML"},
      {"teleport: {io_threads: many}\nauth_service: {cluster_name: x}\n",
       "teleport.io_threads: \"many\" is not a thread count; use 0 (one per CPU, the default) to 256"},
      {"teleport: {io_threads: -1}\nauth_service: {cluster_name: x}\n", "teleport.io_threads: \"-1\" is not"},
      {"teleport: {io_threads: 2x}\nauth_service: {cluster_name: x}\n", "teleport.io_threads: \"2x\" is not"},
  };
  for (const auto& c : cases) {
    auto r = parse_config(c.yaml, "t.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.error().message.find(c.expected), std::string::npos) << r.error().message;
  }
}

TEST(Config, DbConfigureValidatesFlags) {
  DbConfigureOptions o;
  o.proxy = "p:443";
  o.token = "/tmp/token";
  o.name = "x";
  o.protocol = "mongodb";
  o.uri = "h:1";
  auto r = render_db_config(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--protocol"), std::string::npos);
  o.protocol = "mysql";
  o.uri = "nohostport";
  EXPECT_FALSE(render_db_config(o).ok());
  o.uri = "h:3306";
  o.proxy = "";
  EXPECT_FALSE(render_db_config(o).ok());
}

}  // namespace
}  // namespace tp
