// Amazon RDS over the Query API (version 2014-10-31): describe instances and Aurora clusters
// (metadata, tags as labels, IAM-auth state), enable IAM authentication, and the pure helpers that
// read RDS endpoints and decide whether a database can use IAM authentication at all.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aws/query_api.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "common/result.h"

namespace tp::aws {

inline constexpr const char* kRdsApiVersion = "2014-10-31";

// One RDS DB instance or Aurora cluster, as discovery and the agent need it.
struct RdsDatabase {
  bool is_cluster = false;
  std::string identifier;  // DBInstanceIdentifier / DBClusterIdentifier
  std::string engine;      // "postgres", "mysql", "mariadb", "aurora-postgresql", ...
  std::string engine_version;
  std::string engine_mode;  // clusters: "provisioned", "serverless" (Aurora Serverless v1), ...
  std::string status;       // "available", ...
  std::string address;      // instance endpoint address / cluster writer endpoint
  uint16_t port = 0;
  std::string reader_address;  // clusters only
  std::string arn;
  std::string region;       // from the ARN
  std::string account_id;   // from the ARN
  std::string resource_id;  // DbiResourceId / DbClusterResourceId: the rds-db:connect resource
  std::string cluster_id;   // instances in an Aurora cluster: DBClusterIdentifier
  bool iam_auth_enabled = false;
  std::map<std::string, std::string> tags;
};

// Empty identifier = all instances (clusters) in the region; pages through Marker.
Result<std::vector<RdsDatabase>> describe_db_instances(const ApiContext& ctx, const Credentials& creds,
                                                       const std::string& region,
                                                       const std::string& instance_id = "");
Result<std::vector<RdsDatabase>> describe_db_clusters(const ApiContext& ctx, const Credentials& creds,
                                                      const std::string& region,
                                                      const std::string& cluster_id = "");
// EnableIAMDatabaseAuthentication=true, ApplyImmediately=true.
Status enable_iam_auth_instance(const ApiContext& ctx, const Credentials& creds, const std::string& region,
                                const std::string& instance_id);
Status enable_iam_auth_cluster(const ApiContext& ctx, const Credentials& creds, const std::string& region,
                               const std::string& cluster_id);

// Pure parsers, exposed for tests: one page of a response, and its Marker ("" on the last page).
Result<std::vector<RdsDatabase>> parse_db_instances(const xml::Element& root, std::string* marker = nullptr);
Result<std::vector<RdsDatabase>> parse_db_clusters(const xml::Element& root, std::string* marker = nullptr);

struct Arn {
  std::string partition, service, region, account_id, resource;
};
Result<Arn> parse_arn(const std::string& arn);

// Errors for the products the guide lists as unable to use IAM authentication: Aurora Serverless
// v1 (engine_mode "serverless") and RDS MariaDB before 10.6.
Status check_rds_supported(const std::string& engine, const std::string& engine_version,
                           const std::string& engine_mode);

// What an RDS host name says: "myrds.abcdefgh.us-east-1.rds.amazonaws.com" is instance "myrds";
// "x.cluster-abc..." a cluster writer, "x.cluster-ro-abc..." its readers, "x.cluster-custom-abc..."
// a custom cluster endpoint, "x.proxy-abc..." an RDS Proxy.
struct RdsEndpointInfo {
  std::string id;  // instance, cluster or proxy (endpoint) name
  std::string region;
  bool is_cluster = false;
  bool is_reader = false;
  bool is_custom = false;
  bool is_proxy = false;
};
Result<RdsEndpointInfo> parse_rds_endpoint(const std::string& host);

}  // namespace tp::aws
