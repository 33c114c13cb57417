// RDS and Aurora metadata for the Database Service and discovery (guide step 3,
// statement RDSFetchMetadata and RDSAutoEnableIAMAuth): what a configured RDS
// database's endpoint is, which region and account it lives in, whether IAM
// authentication is on (turning it on when it is off), and its tags as labels.
#pragma once

#include <string>
#include <vector>

#include "auth/types.h"
#include "aws/query_api.h"
#include "aws/rds.h"
#include "service/config.h"

namespace tp::discovery {

struct RdsMetadataResult {
  Database database;                 // with aws.* filled and aws_labels from the tags
  std::vector<std::string> actions;  // what was changed, for the log ("enabled IAM authentication on ...")
  std::vector<std::string> warnings; // what could not be done and what to do about it
};

// Looks the database up by aws.rds_instance_id / aws.rds_cluster_id or by its
// endpoint host; errors for databases that cannot use IAM authentication
// (Aurora Serverless v1, RDS MariaDB before 10.6) quote the guide's reason.
Result<RdsMetadataResult> fetch_rds_metadata(const aws::ApiContext& ctx, const aws::Credentials& creds,
                                             const Database& database);

// The labels an RDS database gets: its tags plus region, account-id, engine,
// engine-version and endpoint-type.
Labels rds_labels(const aws::RdsDatabase& rds, const std::string& endpoint_type);

// A registered database for an RDS instance or Aurora cluster (writer; readers
// get "<cluster>-reader"). Protocol from the engine; IAM auth implied.
std::vector<Database> databases_from_rds(const aws::RdsDatabase& rds);

// db_service.aws / discovery_service.aws: the databases in the matcher's
// regions whose tags match (every matcher key must match; '*': '*' matches all).
Result<std::vector<Database>> discover_rds_databases(const aws::ApiContext& ctx, const aws::Credentials& creds,
                                                     const AwsMatcher& matcher);

}  // namespace tp::discovery
