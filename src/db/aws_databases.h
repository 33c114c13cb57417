// RDS and Aurora at agent start (guide step 3): fills each configured RDS
// database's metadata (region, account, resource id, tags as labels), turns
// IAM authentication on where it is off, and adds the databases the
// db_service.aws matchers discover. AWS problems are logged with what to do
// and never stop the agent: the configured databases are served as written.
#pragma once

#include <vector>

#include "auth/types.h"
#include "service/config.h"

namespace tp::db {

std::vector<Database> resolve_aws_databases(const TeleportConfig& config);

}  // namespace tp::db
