#include "auth/types.h"

#include "common/strings.h"

namespace tp {

using nlohmann::json;

namespace {

Result<std::vector<std::string>> string_list(const json& j, const std::string& path) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (j.is_string()) return std::vector<std::string>{j.get<std::string>()};
  if (!j.is_array()) return invalid_argument(path + ": expected a list of strings");
  for (const auto& v : j) {
    if (!v.is_string()) return invalid_argument(path + ": expected a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<Labels> label_map(const json& j, const std::string& path) {
  Labels out;
  if (j.is_null()) return out;
  if (!j.is_object()) return invalid_argument(path + ": expected a map of label names to values");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
    else if (it.value().is_number() || it.value().is_boolean()) out[it.key()] = it.value().dump();
    else return invalid_argument(path + "." + it.key() + ": expected a string");
  }
  return out;
}

}  // namespace

json User::to_json(bool with_secrets) const {
  json j{{"kind", "user"},
         {"version", "v2"},
         {"metadata", {{"name", name}}},
         {"spec", {{"roles", roles}, {"traits", traits}, {"created", format_rfc3339(created)}}}};
  if (locked_until) j["spec"]["locked_until"] = locked_until;
  if (with_secrets) {
    j["secrets"] = {{"password_hash", password_hash}, {"totp_secret", totp_secret}, {"failed_logins", failed_logins}};
  }
  return j;
}

Result<User> User::from_json(const json& j) {
  if (!j.is_object()) return invalid_argument("user: expected an object");
  User u;
  u.name = j.value("/metadata/name"_json_pointer, "");
  if (u.name.empty()) return invalid_argument("metadata.name: a user needs a name");
  const json spec = j.value("spec", json::object());
  TP_TRY(u.roles, string_list(spec.value("roles", json()), "spec.roles"));
  if (spec.contains("traits")) {
    if (!spec["traits"].is_object()) return invalid_argument("spec.traits: expected a map");
    for (auto it = spec["traits"].begin(); it != spec["traits"].end(); ++it) {
      TP_TRY(u.traits[it.key()], string_list(it.value(), "spec.traits." + it.key()));
    }
  }
  u.locked_until = spec.value("locked_until", int64_t{0});
  if (j.contains("secrets")) {
    const auto& s = j["secrets"];
    u.password_hash = s.value("password_hash", "");
    u.totp_secret = s.value("totp_secret", "");
    u.failed_logins = s.value("failed_logins", std::vector<int64_t>{});
  }
  return u;
}

json JoinToken::to_json() const {
  return {{"kind", "token"},
          {"version", "v2"},
          {"metadata", {{"name", token}, {"expires", format_rfc3339(expires)}, {"expires_unix", to_unix_seconds(expires)}}},
          {"spec", {{"roles", roles}, {"labels", labels}}}};
}

Result<JoinToken> JoinToken::from_json(const json& j) {
  JoinToken t;
  t.token = j.value("/metadata/name"_json_pointer, "");
  if (t.token.empty()) return invalid_argument("metadata.name: a token needs a value");
  t.expires = from_unix_seconds(j.value("/metadata/expires_unix"_json_pointer, int64_t{0}));
  TP_TRY(t.roles, string_list(j.value("/spec/roles"_json_pointer, json()), "spec.roles"));
  TP_TRY(t.labels, label_map(j.value("/spec/labels"_json_pointer, json()), "spec.labels"));
  return t;
}

Result<std::string> join_role_from_type(const std::string& type) {
  static const std::map<std::string, std::string> kTypes = {
      {"db", "Db"}, {"proxy", "Proxy"}, {"auth", "Auth"}, {"discovery", "Discovery"}, {"node", "Node"}};
  auto it = kTypes.find(to_lower(type));
  if (it == kTypes.end())
    return invalid_argument("unknown token type \"" + type + "\"; use one of: db, proxy, auth, discovery, node");
  return it->second;
}

bool Database::iam_auth() const {
  std::string host = uri.substr(0, uri.rfind(':'));
  return ends_with(to_lower(host), ".rds.amazonaws.com") || !aws.region.empty() || !aws.rds_instance_id.empty() ||
         !aws.rds_cluster_id.empty();
}

Labels Database::all_labels() const {
  Labels out = aws_labels;
  for (const auto& [k, v] : static_labels) out[k] = v;  // static labels win
  return out;
}

json Database::to_json() const {
  json j{{"kind", "db"},
         {"version", "v3"},
         {"metadata", {{"name", name}, {"description", description}, {"labels", static_labels}}},
         {"spec",
          {{"protocol", protocol},
           {"uri", uri},
           {"tls", {{"mode", tls.mode}, {"ca_cert_file", tls.ca_cert_file}, {"server_name", tls.server_name}}}}}};
  if (!aws_labels.empty()) j["metadata"]["aws_labels"] = aws_labels;
  if (!aws.region.empty() || !aws.assume_role_arn.empty() || !aws.rds_instance_id.empty() ||
      !aws.rds_cluster_id.empty()) {
    j["spec"]["aws"] = {{"region", aws.region},
                        {"account_id", aws.account_id},
                        {"assume_role_arn", aws.assume_role_arn},
                        {"external_id", aws.external_id},
                        {"rds", {{"instance_id", aws.rds_instance_id},
                                 {"cluster_id", aws.rds_cluster_id},
                                 {"resource_id", aws.rds_resource_id}}}};
  }
  if (!mysql_server_version.empty()) j["spec"]["mysql"] = {{"server_version", mysql_server_version}};
  if (!password_file.empty()) j["spec"]["password_file"] = password_file;
  return j;
}

Result<Database> Database::from_json(const json& j) {
  if (!j.is_object()) return invalid_argument("db: expected an object");
  Database d;
  d.name = j.value("/metadata/name"_json_pointer, "");
  d.description = j.value("/metadata/description"_json_pointer, "");
  TP_TRY(d.static_labels, label_map(j.value("/metadata/labels"_json_pointer, json()), "metadata.labels"));
  TP_TRY(d.aws_labels, label_map(j.value("/metadata/aws_labels"_json_pointer, json()), "metadata.aws_labels"));
  const json spec = j.value("spec", json::object());
  d.protocol = spec.value("protocol", "");
  d.uri = spec.value("uri", "");
  if (spec.contains("tls")) {
    d.tls.mode = spec["tls"].value("mode", "verify-full");
    d.tls.ca_cert_file = spec["tls"].value("ca_cert_file", "");
    d.tls.server_name = spec["tls"].value("server_name", "");
  }
  if (spec.contains("aws")) {
    const auto& a = spec["aws"];
    d.aws.region = a.value("region", "");
    d.aws.account_id = a.value("account_id", "");
    d.aws.assume_role_arn = a.value("assume_role_arn", "");
    d.aws.external_id = a.value("external_id", "");
    d.aws.rds_instance_id = a.value("/rds/instance_id"_json_pointer, "");
    d.aws.rds_cluster_id = a.value("/rds/cluster_id"_json_pointer, "");
    d.aws.rds_resource_id = a.value("/rds/resource_id"_json_pointer, "");
  }
  d.mysql_server_version = j.value("/spec/mysql/server_version"_json_pointer, "");
  d.password_file = spec.value("password_file", "");
  if (d.name.empty()) return invalid_argument("metadata.name: a database needs a name");
  if (d.protocol != "postgres" && d.protocol != "mysql")
    return invalid_argument("spec.protocol: \"" + d.protocol + "\" is not supported; use postgres or mysql");
  if (!parse_host_port(d.uri).ok()) return invalid_argument("spec.uri: \"" + d.uri + "\" is not host:port");
  return d;
}

json DatabaseServer::to_json() const {
  return {{"kind", "db_server"},
          {"version", "v3"},
          {"metadata", {{"name", database.name}, {"expires_unix", to_unix_seconds(expires)}}},
          {"spec", {{"host_id", host_id}, {"hostname", hostname}, {"database", database.to_json()}}}};
}

Result<DatabaseServer> DatabaseServer::from_json(const json& j) {
  DatabaseServer s;
  s.host_id = j.value("/spec/host_id"_json_pointer, "");
  s.hostname = j.value("/spec/hostname"_json_pointer, "");
  s.expires = from_unix_seconds(j.value("/metadata/expires_unix"_json_pointer, int64_t{0}));
  if (!j.contains("spec") || !j["spec"].contains("database")) return invalid_argument("db_server: missing spec.database");
  TP_TRY(s.database, Database::from_json(j["spec"]["database"]));
  if (s.host_id.empty()) return invalid_argument("db_server: missing spec.host_id");
  return s;
}

namespace events {

namespace {

struct EventCodes {
  std::string_view type, success, failure;
};

// Every query writes an event, so this is a table of ready strings, not a map of bases to append to,
// and the query event comes first.
constexpr EventCodes kEventCodes[] = {
    {kDbSessionQuery, "TDB02I", "TDB02W"},  {kDbSessionStart, "TDB00I", "TDB00W"},
    {kDbSessionEnd, "TDB01I", "TDB01W"},    {kUserLogin, "T1000I", "T1000W"},
    {kUserCreate, "T1002I", "T1002W"},      {kUserUpdate, "T1003I", "T1003W"},
    {kUserDelete, "T1004I", "T1004W"},      {kUserPasswordChange, "T1005I", "T1005W"},
    {kRoleCreate, "T9000I", "T9000W"},      {kRoleDelete, "T9001I", "T9001W"},
    {kJoinTokenCreate, "TJT00I", "TJT00W"}, {kJoinTokenDelete, "TJT01I", "TJT01W"},
    {kInstanceJoin, "TJ001I", "TJ001W"},    {kCertCreate, "TC000I", "TC000W"},
    {kDbCreate, "TDB03I", "TDB03W"},        {kDbDelete, "TDB05I", "TDB05W"},
};
constexpr EventCodes kUnknownEvent{{}, "TX000I", "TX000W"};

}  // namespace

std::string_view code_for(std::string_view type, bool success) {
  const EventCodes* codes = &kUnknownEvent;
  for (const EventCodes& c : kEventCodes) {
    if (c.type == type) {
      codes = &c;
      break;
    }
  }
  return success ? codes->success : codes->failure;
}

}  // namespace events
}  // namespace tp
