#include "aws/rds.h"

#include <charconv>

#include "common/strings.h"

namespace tp::aws {
namespace {

constexpr int kMaxPages = 100;  // 100 records a page: 10 000 databases is far beyond one region's use

QueryRequest rds_request(const std::string& region, std::string action) {
  return QueryRequest{"rds", region, kRdsApiVersion, std::move(action), {}};
}

bool parse_bool(const std::string& s) {
  return to_lower(s) == "true";
}

uint16_t parse_port(const std::string& s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && v <= 65535 ? static_cast<uint16_t>(v) : 0;
}

std::map<std::string, std::string> parse_tags(const xml::Element& e) {
  std::map<std::string, std::string> tags;
  if (const xml::Element* list = e.child("TagList")) {
    for (const xml::Element* tag : list->children_named("Tag"))
      tags[tag->child_text("Key")] = tag->child_text("Value");
  }
  return tags;
}

void fill_from_arn(RdsDatabase& db) {
  if (auto arn = parse_arn(db.arn); arn.ok()) {
    db.region = arn->region;
    db.account_id = arn->account_id;
  }
}

std::vector<int> version_numbers(const std::string& v) {
  std::vector<int> out;
  for (const auto& part : split(v, '.')) {
    int n = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (ec != std::errc()) break;  // "10.6.8-R1": keep the numeric prefix
    out.push_back(n);
    if (p != part.data() + part.size()) break;
  }
  return out;
}

template <class Parse>
Result<std::vector<RdsDatabase>> describe_all(const ApiContext& ctx, const Credentials& creds, QueryRequest q,
                                              Parse parse) {
  std::vector<RdsDatabase> all;
  std::string marker;
  for (int page = 0; page < kMaxPages; ++page) {
    QueryRequest paged = q;
    paged.params.emplace_back("MaxRecords", "100");
    if (!marker.empty()) paged.params.emplace_back("Marker", marker);
    TP_TRY(xml::Element root, call_query_api(ctx, &creds, paged));
    TP_TRY(std::vector<RdsDatabase> dbs, parse(root, &marker));
    all.insert(all.end(), std::make_move_iterator(dbs.begin()), std::make_move_iterator(dbs.end()));
    if (marker.empty()) return all;
  }
  return limit_exceeded("rds " + q.action + ": more than " + std::to_string(kMaxPages) + " pages");
}

}  // namespace

Result<Arn> parse_arn(const std::string& text) {
  // arn:partition:service:region:account-id:resource (the resource may contain ':')
  auto parts = split(text, ':', /*skip_empty=*/false);
  if (parts.size() < 6 || parts[0] != "arn") return invalid_argument("\"" + text + "\" is not an ARN");
  Arn a{parts[1], parts[2], parts[3], parts[4], ""};
  std::vector<std::string> rest(parts.begin() + 5, parts.end());
  a.resource = join(rest, ":");
  return a;
}

Result<std::vector<RdsDatabase>> parse_db_instances(const xml::Element& root, std::string* marker) {
  const xml::Element* result = root.find("DescribeDBInstancesResult");
  if (result == nullptr) return internal_error("RDS response has no DescribeDBInstancesResult element");
  std::vector<RdsDatabase> out;
  if (const xml::Element* list = result->child("DBInstances")) {
    for (const xml::Element* e : list->children_named("DBInstance")) {
      RdsDatabase db;
      db.identifier = e->child_text("DBInstanceIdentifier");
      db.engine = e->child_text("Engine");
      db.engine_version = e->child_text("EngineVersion");
      db.status = e->child_text("DBInstanceStatus");
      if (const xml::Element* ep = e->child("Endpoint")) {
        db.address = ep->child_text("Address");
        db.port = parse_port(ep->child_text("Port"));
      }
      if (db.port == 0) db.port = parse_port(e->child_text("DbInstancePort"));
      db.arn = e->child_text("DBInstanceArn");
      db.resource_id = e->child_text("DbiResourceId");
      db.cluster_id = e->child_text("DBClusterIdentifier");
      db.iam_auth_enabled = parse_bool(e->child_text("IAMDatabaseAuthenticationEnabled"));
      db.tags = parse_tags(*e);
      fill_from_arn(db);
      out.push_back(std::move(db));
    }
  }
  if (marker) *marker = result->child_text("Marker");
  return out;
}

Result<std::vector<RdsDatabase>> parse_db_clusters(const xml::Element& root, std::string* marker) {
  const xml::Element* result = root.find("DescribeDBClustersResult");
  if (result == nullptr) return internal_error("RDS response has no DescribeDBClustersResult element");
  std::vector<RdsDatabase> out;
  if (const xml::Element* list = result->child("DBClusters")) {
    for (const xml::Element* e : list->children_named("DBCluster")) {
      RdsDatabase db;
      db.is_cluster = true;
      db.identifier = e->child_text("DBClusterIdentifier");
      db.cluster_id = db.identifier;
      db.engine = e->child_text("Engine");
      db.engine_version = e->child_text("EngineVersion");
      db.engine_mode = e->child_text("EngineMode");
      db.status = e->child_text("Status");
      db.address = e->child_text("Endpoint");
      db.reader_address = e->child_text("ReaderEndpoint");
      db.port = parse_port(e->child_text("Port"));
      db.arn = e->child_text("DBClusterArn");
      db.resource_id = e->child_text("DbClusterResourceId");
      db.iam_auth_enabled = parse_bool(e->child_text("IAMDatabaseAuthenticationEnabled"));
      db.tags = parse_tags(*e);
      fill_from_arn(db);
      out.push_back(std::move(db));
    }
  }
  if (marker) *marker = result->child_text("Marker");
  return out;
}

Result<std::vector<RdsDatabase>> describe_db_instances(const ApiContext& ctx, const Credentials& creds,
                                                       const std::string& region,
                                                       const std::string& instance_id) {
  QueryRequest q = rds_request(region, "DescribeDBInstances");
  if (!instance_id.empty()) q.params.emplace_back("DBInstanceIdentifier", instance_id);
  return describe_all(ctx, creds, q,
                      [](const xml::Element& r, std::string* m) { return parse_db_instances(r, m); });
}

Result<std::vector<RdsDatabase>> describe_db_clusters(const ApiContext& ctx, const Credentials& creds,
                                                      const std::string& region,
                                                      const std::string& cluster_id) {
  QueryRequest q = rds_request(region, "DescribeDBClusters");
  if (!cluster_id.empty()) q.params.emplace_back("DBClusterIdentifier", cluster_id);
  return describe_all(ctx, creds, q,
                      [](const xml::Element& r, std::string* m) { return parse_db_clusters(r, m); });
}

Status enable_iam_auth_instance(const ApiContext& ctx, const Credentials& creds, const std::string& region,
                                const std::string& instance_id) {
  QueryRequest q = rds_request(region, "ModifyDBInstance");
  q.params = {{"DBInstanceIdentifier", instance_id},
              {"EnableIAMDatabaseAuthentication", "true"},
              {"ApplyImmediately", "true"}};
  auto res = call_query_api(ctx, &creds, q);
  if (!res.ok()) return res.error();
  return {};
}

Status enable_iam_auth_cluster(const ApiContext& ctx, const Credentials& creds, const std::string& region,
                               const std::string& cluster_id) {
  QueryRequest q = rds_request(region, "ModifyDBCluster");
  q.params = {{"DBClusterIdentifier", cluster_id},
              {"EnableIAMDatabaseAuthentication", "true"},
              {"ApplyImmediately", "true"}};
  auto res = call_query_api(ctx, &creds, q);
  if (!res.ok()) return res.error();
  return {};
}

Status check_rds_supported(const std::string& engine, const std::string& engine_version,
                           const std::string& engine_mode) {
  if (to_lower(engine_mode) == "serverless") {
    return invalid_argument("IAM authentication is not supported for Aurora Serverless v1 (engine " + engine +
                            ", engine mode serverless); upgrade to Aurora Serverless v2, which supports IAM "
                            "authentication");
  }
  if (to_lower(engine) == "mariadb") {
    std::vector<int> v = version_numbers(engine_version);
    bool old = v.empty() || v[0] < 10 || (v[0] == 10 && (v.size() < 2 || v[1] < 6));
    if (old) {
      return invalid_argument(
          "IAM authentication is not supported for RDS MariaDB versions lower than 10.6 "
          "(this database runs " +
          (engine_version.empty() ? std::string("an unknown version") : engine_version) +
          "); upgrade it to MariaDB 10.6 or later");
    }
  }
  return {};
}

Result<RdsEndpointInfo> parse_rds_endpoint(const std::string& host_in) {
  std::string host = to_lower(trim(host_in));
  while (!host.empty() && host.back() == '.') host.pop_back();
  auto bad = [&](const std::string& why) {
    return invalid_argument("\"" + host_in + "\" is not an RDS endpoint (" + why +
                            "); expected e.g. mydb.abcdefgh.us-east-1.rds.amazonaws.com");
  };
  std::string_view h = host;
  constexpr std::string_view kChina = ".rds.amazonaws.com.cn", kCommercial = ".rds.amazonaws.com";
  if (ends_with(h, kChina)) {
    h.remove_suffix(kChina.size());
  } else if (ends_with(h, kCommercial)) {
    h.remove_suffix(kCommercial.size());
  } else {
    return bad("no .rds.amazonaws.com suffix");
  }
  // What is left: <id>.<kind-and-hash>.<region>, or <endpoint>.endpoint.proxy-<hash>.<region>.
  auto labels = split(h, '.', /*skip_empty=*/false);
  if (labels.size() < 3) return bad("too few labels");
  RdsEndpointInfo info;
  info.region = labels.back();
  const std::string& kind = labels[labels.size() - 2];
  info.id = labels[0];
  if (info.id.empty() || info.region.empty()) return bad("empty label");
  if (starts_with(kind, "proxy-")) {
    info.is_proxy = true;
    if (labels.size() == 4 && labels[1] == "endpoint")
      info.is_custom = true;
    else if (labels.size() != 3)
      return bad("unexpected labels before proxy-");
    return info;
  }
  if (labels.size() != 3) return bad("unexpected number of labels");
  if (starts_with(kind, "cluster-ro-")) {
    info.is_cluster = info.is_reader = true;
  } else if (starts_with(kind, "cluster-custom-")) {
    info.is_cluster = info.is_custom = true;
  } else if (starts_with(kind, "cluster-")) {
    info.is_cluster = true;
  }
  return info;
}

}  // namespace tp::aws
