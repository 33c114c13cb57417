// The RDS IAM authentication token: a SigV4 presigned "connect" URL for service "rds-db" without
// its scheme, valid 15 minutes, byte-identical to botocore's RDS.generate_db_auth_token:
//   host:port/?Action=connect&DBUser=<user>&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...
//   &X-Amz-Date=...&X-Amz-Expires=900&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]
//   &X-Amz-Signature=...
// The client sends it as the database password (PostgreSQL password message, MySQL
// mysql_clear_password).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "aws/sigv4.h"
#include "common/clock.h"

namespace tp::aws {

inline constexpr std::chrono::seconds kRdsTokenLifetime{900};
// A cached token is reused only while it has at least this much validity left.
inline constexpr std::chrono::minutes kRdsTokenMinRemaining{5};

struct RdsTokenRequest {
  std::string host;  // as given, e.g. "mydb.abc.us-east-1.rds.amazonaws.com"
  uint16_t port = 0;
  std::string region;
  std::string db_user;
};

std::string generate_rds_auth_token(const std::string& host, uint16_t port, const std::string& region,
                                    const std::string& db_user, const Credentials& creds, TimePoint now);
inline std::string generate_rds_auth_token(const RdsTokenRequest& r, const Credentials& creds,
                                           TimePoint now) {
  return generate_rds_auth_token(r.host, r.port, r.region, r.db_user, creds, now);
}

// Tokens per (host, port, region, user, access key), reused while they have at least
// kRdsTokenMinRemaining left — also of the credentials' own lifetime, since a token signed with
// temporary credentials dies with them. Thread-safe.
class RdsTokenCache {
 public:
  explicit RdsTokenCache(const Clock& clock) : clock_(clock) {}
  std::string get(const RdsTokenRequest& req, const Credentials& creds);
  size_t size() const;

 private:
  struct Entry {
    std::string token;
    TimePoint valid_until;
  };
  using Key = std::tuple<std::string, uint16_t, std::string, std::string, std::string>;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<Key, Entry> entries_;
};

}  // namespace tp::aws
