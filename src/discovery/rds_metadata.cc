#include "discovery/rds_metadata.h"

#include "common/strings.h"
#include "rbac/access.h"

namespace tp::discovery {

namespace {

std::string protocol_for_engine(const std::string& engine) {
  if (engine.find("postgres") != std::string::npos) return "postgres";
  if (engine.find("mysql") != std::string::npos || engine.find("mariadb") != std::string::npos) return "mysql";
  return "";
}

bool tags_match(const LabelMatchers& matchers, const Labels& tags) {
  if (matchers.empty()) return false;
  for (const auto& [key, patterns] : matchers) {
    if (key == "*") {
      bool any = false;
      for (const auto& p : patterns) any = any || p == "*";
      if (any) continue;
      return false;
    }
    auto it = tags.find(key);
    if (it == tags.end()) return false;
    bool ok = false;
    for (const auto& p : patterns) ok = ok || match_value(p, it->second);
    if (!ok) return false;
  }
  return true;
}

// Finds the RDS resource behind a configured database.
Result<aws::RdsDatabase> lookup(const aws::ApiContext& ctx, const aws::Credentials& creds, const Database& db,
                                std::string* region_out) {
  std::string host = db.uri.substr(0, db.uri.rfind(':'));
  auto endpoint = aws::parse_rds_endpoint(host);
  std::string region = db.aws.region;
  if (region.empty() && endpoint.ok()) region = endpoint->region;
  if (region.empty())
    return invalid_argument("database \"" + db.name + "\": cannot tell its AWS region; set aws.region in the config");
  *region_out = region;
  std::string cluster_id = db.aws.rds_cluster_id;
  std::string instance_id = db.aws.rds_instance_id;
  if (cluster_id.empty() && instance_id.empty() && endpoint.ok()) {
    if (endpoint->is_cluster) cluster_id = endpoint->id;
    else if (!endpoint->is_proxy) instance_id = endpoint->id;
  }
  if (!cluster_id.empty()) {
    TP_TRY(auto clusters, aws::describe_db_clusters(ctx, creds, region, cluster_id));
    if (clusters.empty()) return not_found("Aurora cluster \"" + cluster_id + "\" not found in " + region);
    return clusters.front();
  }
  if (!instance_id.empty()) {
    TP_TRY(auto instances, aws::describe_db_instances(ctx, creds, region, instance_id));
    if (instances.empty()) return not_found("RDS instance \"" + instance_id + "\" not found in " + region);
    return instances.front();
  }
  return invalid_argument("database \"" + db.name + "\": " + host +
                          " is not an RDS endpoint; set aws.rds.instance_id or aws.rds.cluster_id");
}

}  // namespace

Labels rds_labels(const aws::RdsDatabase& rds, const std::string& endpoint_type) {
  Labels labels = rds.tags;
  labels["region"] = rds.region;
  labels["account-id"] = rds.account_id;
  labels["engine"] = rds.engine;
  labels["engine-version"] = rds.engine_version;
  labels["endpoint-type"] = endpoint_type;
  return labels;
}

Result<RdsMetadataResult> fetch_rds_metadata(const aws::ApiContext& ctx, const aws::Credentials& creds,
                                             const Database& database) {
  std::string region;
  TP_TRY(auto rds, lookup(ctx, creds, database, &region));
  if (auto s = aws::check_rds_supported(rds.engine, rds.engine_version, rds.engine_mode); !s.ok())
    return s.error().wrap("database \"" + database.name + "\"");
  RdsMetadataResult out;
  out.database = database;
  Database& db = out.database;
  db.aws.region = rds.region.empty() ? region : rds.region;
  db.aws.account_id = rds.account_id;
  db.aws.rds_resource_id = rds.resource_id;
  if (rds.is_cluster) db.aws.rds_cluster_id = rds.identifier;
  else db.aws.rds_instance_id = rds.identifier;
  db.aws_labels = rds_labels(rds, rds.is_cluster ? "primary" : "instance");
  if (!rds.iam_auth_enabled) {
    // RDSAutoEnableIAMAuth: turn IAM authentication on; without the permission, say what to do.
    Status enabled = rds.is_cluster ? aws::enable_iam_auth_cluster(ctx, creds, db.aws.region, rds.identifier)
                                    : aws::enable_iam_auth_instance(ctx, creds, db.aws.region, rds.identifier);
    std::string what = std::string(rds.is_cluster ? "Aurora cluster " : "RDS instance ") + rds.identifier;
    if (enabled.ok()) {
      out.actions.push_back("enabled IAM authentication on " + what);
    } else {
      out.warnings.push_back("IAM authentication is off on " + what + " and could not be turned on (" +
                             enabled.error().message +
                             "); enable it in the RDS console or grant rds:ModifyDBInstance / rds:ModifyDBCluster");
    }
  }
  return out;
}

std::vector<Database> databases_from_rds(const aws::RdsDatabase& rds) {
  std::vector<Database> out;
  std::string protocol = protocol_for_engine(rds.engine);
  if (protocol.empty() || rds.address.empty()) return out;
  Database db;
  db.name = rds.identifier;
  db.description = std::string(rds.is_cluster ? "Aurora cluster " : "RDS instance ") + rds.identifier + " in " + rds.region;
  db.protocol = protocol;
  db.uri = rds.address + ":" + std::to_string(rds.port);
  db.aws.region = rds.region;
  db.aws.account_id = rds.account_id;
  db.aws.rds_resource_id = rds.resource_id;
  if (rds.is_cluster) db.aws.rds_cluster_id = rds.identifier;
  else db.aws.rds_instance_id = rds.identifier;
  db.aws_labels = rds_labels(rds, rds.is_cluster ? "primary" : "instance");
  out.push_back(db);
  if (rds.is_cluster && !rds.reader_address.empty()) {
    Database reader = db;
    reader.name = rds.identifier + "-reader";
    reader.description = "Aurora cluster " + rds.identifier + " readers in " + rds.region;
    reader.uri = rds.reader_address + ":" + std::to_string(rds.port);
    reader.aws_labels["endpoint-type"] = "reader";
    out.push_back(reader);
  }
  return out;
}

Result<std::vector<Database>> discover_rds_databases(const aws::ApiContext& ctx, const aws::Credentials& creds,
                                                     const AwsMatcher& matcher) {
  std::vector<Database> out;
  for (const auto& region : matcher.regions) {
    TP_TRY(auto instances, aws::describe_db_instances(ctx, creds, region));
    TP_TRY(auto clusters, aws::describe_db_clusters(ctx, creds, region));
    for (const auto* list : {&clusters, &instances}) {
      for (const auto& rds : *list) {
        // Aurora members are reached through their cluster's endpoints.
        if (!rds.is_cluster && !rds.cluster_id.empty()) continue;
        if (rds.status != "" && rds.status != "available") continue;
        if (!tags_match(matcher.tags, rds.tags)) continue;
        if (!aws::check_rds_supported(rds.engine, rds.engine_version, rds.engine_mode).ok()) continue;
        for (auto& db : databases_from_rds(rds)) out.push_back(std::move(db));
      }
    }
  }
  return out;
}

}  // namespace tp::discovery
