// The Auth Service's resources as plain values with their JSON form. Shared by
// the services and the CLIs (tctl prints them, tsh lists databases).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/identity.h"
#include "rbac/role.h"

namespace tp {

struct User {
  std::string name;
  std::vector<std::string> roles;
  Traits traits;  // db_users, db_names, logins, ...
  TimePoint created{};
  // Secrets: never leave the Auth Service.
  std::string password_hash;
  std::string totp_secret;
  std::vector<int64_t> failed_logins;  // unix seconds of recent failures
  int64_t locked_until = 0;            // unix seconds; 0 when not locked

  nlohmann::json to_json(bool with_secrets) const;
  static Result<User> from_json(const nlohmann::json& j);
};

struct JoinToken {
  std::string token;
  std::vector<std::string> roles;  // "Db", "Proxy", ... (the --type values, capitalised)
  Labels labels;
  TimePoint expires{};
  nlohmann::json to_json() const;
  static Result<JoinToken> from_json(const nlohmann::json& j);
};

// `tctl tokens add --type=db` -> "Db". Errors list the valid types.
Result<std::string> join_role_from_type(const std::string& type);

struct DatabaseAws {
  std::string region;
  std::string account_id;
  std::string assume_role_arn;
  std::string external_id;
  std::string rds_instance_id;
  std::string rds_cluster_id;
  std::string rds_resource_id;
  bool operator==(const DatabaseAws&) const = default;
};

struct DatabaseTls {
  std::string mode = "verify-full";  // verify-full, verify-ca, insecure
  std::string ca_cert_file;
  std::string server_name;
  bool operator==(const DatabaseTls&) const = default;
};

// A database the Database Service proxies (db_service.databases[] in the config).
struct Database {
  std::string name;
  std::string description;
  std::string protocol;  // "postgres" or "mysql"
  std::string uri;       // host:port
  Labels static_labels;
  Labels aws_labels;     // imported from AWS tags
  DatabaseAws aws;
  DatabaseTls tls;
  std::string mysql_server_version;  // what the proxy's greeting advertises
  std::string password_file;         // self-hosted: password for the upstream user, read by the agent
  bool iam_auth() const;             // RDS/Aurora: authenticate with an IAM token
  Labels all_labels() const;

  nlohmann::json to_json() const;
  static Result<Database> from_json(const nlohmann::json& j);
  bool operator==(const Database&) const = default;
};

// One agent's heartbeat for one database.
struct DatabaseServer {
  std::string host_id;
  std::string hostname;
  Database database;
  TimePoint expires{};
  nlohmann::json to_json() const;
  static Result<DatabaseServer> from_json(const nlohmann::json& j);
};

// Event types and codes, in the reference's vocabulary.
namespace events {
inline constexpr const char* kUserLogin = "user.login";
inline constexpr const char* kUserCreate = "user.create";
inline constexpr const char* kUserUpdate = "user.update";
inline constexpr const char* kUserDelete = "user.delete";
inline constexpr const char* kUserPasswordChange = "user.password_change";
inline constexpr const char* kRoleCreate = "role.created";
inline constexpr const char* kRoleDelete = "role.deleted";
inline constexpr const char* kJoinTokenCreate = "join_token.create";
inline constexpr const char* kJoinTokenDelete = "join_token.delete";
inline constexpr const char* kInstanceJoin = "instance.join";
inline constexpr const char* kCertCreate = "cert.create";
inline constexpr const char* kDbSessionStart = "db.session.start";
inline constexpr const char* kDbSessionQuery = "db.session.query";
inline constexpr const char* kDbSessionEnd = "db.session.end";
inline constexpr const char* kDbCreate = "db.create";
inline constexpr const char* kDbDelete = "db.delete";
// The code for an event type and outcome, e.g. ("db.session.start", false) -> "TDB00W"; "TX000I" or
// "TX000W" for a type without a code of its own.
std::string_view code_for(std::string_view type, bool success);
// POST /v1/events takes a JSON array of events or, with this content type,
// JSON Lines: one event object per line (what agents upload).
inline constexpr const char* kJsonLinesContentType = "application/x-ndjson";
}  // namespace events

struct EventFilter {
  std::string type;  // exact; empty: any
  std::string user;
  std::optional<TimePoint> from, to;
  size_t limit = 1000;
};

}  // namespace tp
