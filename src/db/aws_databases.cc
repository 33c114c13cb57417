#include "db/aws_databases.h"

#include "aws/credentials.h"
#include "aws/env.h"
#include "aws/http_transport.h"
#include "aws/sts.h"
#include "common/log.h"
#include "common/strings.h"
#include "discovery/rds_metadata.h"

namespace tp::db {

namespace {

// A configured database whose RDS metadata we can look up.
bool describes_rds(const Database& db) {
  if (!db.aws.rds_instance_id.empty() || !db.aws.rds_cluster_id.empty()) return true;
  std::string host = db.uri.substr(0, db.uri.rfind(':'));
  return ends_with(to_lower(host), ".rds.amazonaws.com");
}

Result<aws::Credentials> credentials_for(const aws::ApiContext& ctx, aws::CredentialsProvider& base,
                                         const std::string& region, const std::string& role_arn,
                                         const std::string& external_id) {
  if (role_arn.empty()) return base.retrieve();
  aws::AssumeRoleRequest req;
  req.role_arn = role_arn;
  req.external_id = external_id;
  auto assumed = aws::make_assume_role_provider(ctx, base, region, req);
  return assumed->retrieve();
}

}  // namespace

std::vector<Database> resolve_aws_databases(const TeleportConfig& config) {
  std::vector<Database> out = config.db.databases;
  bool any = !config.db.aws.empty();
  for (const auto& db : out) any = any || describes_rds(db);
  if (!any) return out;  // nothing to ask AWS: do not wait on credential lookups

  auto transport = aws::make_http_transport();
  aws::ApiContext ctx{*transport, aws::system_env(), system_clock()};
  auto chain = aws::make_default_credentials_chain(ctx);

  for (auto& db : out) {
    if (!describes_rds(db)) continue;
    std::string region = db.aws.region;
    if (region.empty()) {
      auto endpoint = aws::parse_rds_endpoint(db.uri.substr(0, db.uri.rfind(':')));
      if (endpoint.ok()) region = endpoint->region;
    }
    auto creds = credentials_for(ctx, *chain, region, db.aws.assume_role_arn, db.aws.external_id);
    if (!creds.ok()) {
      log::warn("db", "cannot fetch RDS metadata: no usable AWS credentials",
                {{"db", db.name}, {"error", creds.error().message}});
      continue;
    }
    auto meta = discovery::fetch_rds_metadata(ctx, *creds, db);
    if (!meta.ok()) {
      log::warn("db", "cannot fetch RDS metadata", {{"db", db.name}, {"error", meta.error().message}});
      continue;
    }
    for (const auto& action : meta->actions) log::info("db", action, {{"db", db.name}});
    for (const auto& warning : meta->warnings) log::warn("db", warning, {{"db", db.name}});
    db = meta->database;
  }

  for (const auto& matcher : config.db.aws) {
    std::string region = matcher.regions.empty() ? "" : matcher.regions.front();
    auto creds = credentials_for(ctx, *chain, region, matcher.assume_role_arn, matcher.external_id);
    if (!creds.ok()) {
      log::warn("db", "cannot discover RDS databases: no usable AWS credentials", {{"error", creds.error().message}});
      continue;
    }
    auto found = discovery::discover_rds_databases(ctx, *creds, matcher);
    if (!found.ok()) {
      log::warn("db", "RDS discovery failed", {{"error", found.error().message}});
      continue;
    }
    for (auto& db : *found) {
      bool duplicate = false;
      for (const auto& existing : out) duplicate = duplicate || existing.name == db.name;
      if (duplicate) continue;
      db.aws.assume_role_arn = matcher.assume_role_arn;
      db.aws.external_id = matcher.external_id;
      log::info("db", "discovered RDS database", {{"db", db.name}, {"uri", db.uri}});
      out.push_back(std::move(db));
    }
  }
  return out;
}

}  // namespace tp::db
