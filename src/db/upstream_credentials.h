// How the agent authenticates to the real database as the route's db user
// (DESIGN section 2, step 6). One seam for every engine:
//   - RDS / Aurora (Database::iam_auth()): a fresh IAM auth token, signed with
//     the agent's AWS credentials (default chain, then assume_role_arn);
//   - self-hosted: a password from db.password_file, or from the environment
//     variable TELEPORT_DB_PASSWORD_<NAME> (name upper-cased, other characters
//     as '_'), e.g. TELEPORT_DB_PASSWORD_LOCAL_PG for "local-pg".
// Calls may block (AWS STS, instance metadata): run them off the io threads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/types.h"
#include "common/clock.h"
#include "common/result.h"

namespace tp::db {

class IamTokenProvider {
 public:
  virtual ~IamTokenProvider() = default;
  virtual Result<std::string> token(const Database& db, const std::string& db_user) = 0;
};

// The RDS IAM token provider over src/aws: default credential chain, role
// assumption per database, tokens cached while they have 5 minutes left.
std::unique_ptr<IamTokenProvider> make_rds_iam_token_provider(const Clock& clock);

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup system_env_lookup();

class UpstreamCredentials {
 public:
  virtual ~UpstreamCredentials() = default;
  // The secret to answer the database's password request with. kNotFound when
  // none is configured (fine for databases that do not ask for one).
  virtual Result<std::string> password(const Database& db, const std::string& db_user) = 0;
};

// `iam` may be null: IAM databases then fail with "IAM auth is not available in this build".
std::unique_ptr<UpstreamCredentials> make_upstream_credentials(std::unique_ptr<IamTokenProvider> iam,
                                                               EnvLookup env);

// "TELEPORT_DB_PASSWORD_LOCAL_PG" for "local-pg".
std::string password_env_var(const std::string& db_name);

// The region in an RDS endpoint ("db.abc.us-east-1.rds.amazonaws.com" ->
// "us-east-1"), or "" for other hosts.
std::string region_from_rds_host(const std::string& host);

}  // namespace tp::db
