// The teleport.yaml file as one struct tree, validated once at load with
// errors that name the key path (STYLE habit 7). See docs/config.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "auth/types.h"
#include "common/result.h"

namespace tp {

inline constexpr const char* kDefaultConfigPath = "/etc/teleport.yaml";
inline constexpr const char* kDefaultDataDir = "/var/lib/teleport";

struct KeyPairFiles {
  std::string cert_file;
  std::string key_file;
};

// db_service.aws[] / discovery_service.aws[]: which RDS databases to find.
struct AwsMatcher {
  std::vector<std::string> types;    // "rds"
  std::vector<std::string> regions;
  LabelMatchers tags;                // {"env": ["prod"]} or {"*": ["*"]}
  std::string assume_role_arn;
  std::string external_id;
};

struct TeleportConfig {
  std::string path;  // where it was loaded from

  // teleport:
  std::string nodename;
  std::string data_dir = kDefaultDataDir;
  std::string auth_token;  // the value, or a file path holding it
  std::string proxy_server;
  std::vector<std::string> auth_servers;
  std::vector<std::string> ca_pins;
  std::string log_severity = "INFO";
  std::string log_format = "text";
  size_t io_threads = 0;  // event loops for connections (net/io_pool.h); 0: one per CPU

  struct {
    bool enabled = false;
    std::string cluster_name;
    std::string listen_addr = "0.0.0.0:3025";
    std::string second_factor = "off";  // off, otp
  } auth;

  struct {
    bool enabled = false;
    std::string web_listen_addr = "0.0.0.0:3080";
    std::string public_addr;  // host:port users and agents reach
    std::string postgres_listen_addr;  // empty: PostgreSQL only through TLS routing on the web port
    std::string mysql_listen_addr;
    std::string tunnel_listen_addr;    // empty: agents tunnel through the web port
    std::vector<KeyPairFiles> https_keypairs;
  } proxy;

  struct {
    bool enabled = false;
    std::vector<Database> databases;
    std::vector<AwsMatcher> aws;
  } db;

  struct {
    bool enabled = false;
    std::vector<AwsMatcher> aws;
  } discovery;

  // The join token's value: read from the file when auth_token names one.
  Result<std::string> join_token() const;
};

Result<TeleportConfig> parse_config(const std::string& yaml_text, const std::string& path = "");
Result<TeleportConfig> load_config(const std::string& path);

// `teleport db configure create`: the options the guide passes.
struct DbConfigureOptions {
  std::string name;
  std::string proxy;
  std::string protocol;
  std::string uri;
  std::string labels;       // "env=dev,team=db"
  std::string token;        // file path or value
  std::string ca_pin;
  std::string data_dir = kDefaultDataDir;
  std::string ca_cert_file;
  std::string aws_region;
  std::string assume_role_arn;
  std::string external_id;
  std::vector<std::string> rds_discovery_regions;
};
// The YAML text of a database-service-only config; validated by parsing it back.
Result<std::string> render_db_config(const DbConfigureOptions& options);

}  // namespace tp
