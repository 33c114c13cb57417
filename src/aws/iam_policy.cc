#include "aws/iam_policy.h"

#include <algorithm>

#include "aws/rds.h"
#include "aws/sts.h"
#include "common/strings.h"

namespace tp::aws {
namespace {

using ojson = nlohmann::ordered_json;

// One Action is written as a string, several as an array — as the guide's policy does.
ojson statement(const char* sid, std::vector<std::string> actions) {
  ojson s;
  s["Sid"] = sid;
  s["Effect"] = "Allow";
  if (actions.size() == 1) {
    s["Action"] = actions.front();
  } else {
    s["Action"] = actions;
  }
  s["Resource"] = "*";
  return s;
}

std::vector<ojson> statements_for(const std::string& type) {
  if (type == "rds") {
    return {statement("RDSAutoEnableIAMAuth", {"rds:ModifyDBCluster", "rds:ModifyDBInstance"}),
            statement("RDSConnect", {"rds-db:connect"}),
            statement("RDSFetchMetadata", {"rds:DescribeDBClusters", "rds:DescribeDBInstances"})};
  }
  if (type == "rds-proxy") {
    return {statement("RDSProxyConnect", {"rds-db:connect"}),
            statement("RDSProxyFetchMetadata", {"rds:DescribeDBProxies", "rds:DescribeDBProxyEndpoints"})};
  }
  if (type == "redshift") {
    return {statement("RedshiftConnect", {"redshift:GetClusterCredentials"}),
            statement("RedshiftFetchMetadata", {"redshift:DescribeClusters"})};
  }
  if (type == "redshift-serverless") {
    // Redshift Serverless users connect as IAM roles, which the service assumes.
    return {statement("RedshiftServerlessConnect", {"sts:AssumeRole"}),
            statement("RedshiftServerlessFetchMetadata",
                      {"redshift-serverless:GetEndpointAccess", "redshift-serverless:GetWorkgroup"})};
  }
  return {};
}

}  // namespace

const std::vector<std::string>& iam_policy_types() {
  static const std::vector<std::string> types{"rds", "rds-proxy", "redshift", "redshift-serverless"};
  return types;
}

Result<ojson> build_iam_policy(const std::vector<std::string>& types) {
  if (types.empty())
    return invalid_argument("no database types given; valid types: " + join(iam_policy_types(), ", "));
  ojson policy;
  policy["Version"] = "2012-10-17";
  policy["Statement"] = ojson::array();
  std::vector<std::string> seen;
  for (const auto& raw : types) {
    std::string type = to_lower(trim(raw));
    const auto& valid = iam_policy_types();
    if (std::find(valid.begin(), valid.end(), type) == valid.end()) {
      return invalid_argument("unknown database type \"" + raw + "\"; valid types: " + join(valid, ", "));
    }
    if (std::find(seen.begin(), seen.end(), type) != seen.end()) continue;
    seen.push_back(type);
    for (auto& s : statements_for(type)) policy["Statement"].push_back(std::move(s));
  }
  return policy;
}

Result<IamPrincipal> parse_principal_arn(const std::string& text) {
  TP_TRY(Arn arn, parse_arn(text));
  IamPrincipal p;
  p.account_id = arn.account_id;
  p.arn = text;
  auto parts = split(arn.resource, '/', /*skip_empty=*/false);
  if (arn.service == "iam" && parts.size() >= 2 && parts[0] == "user") {
    p.kind = IamPrincipalKind::kUser;
    p.name = parts.back();  // "user/path/alice": the name is the last segment
  } else if (arn.service == "iam" && parts.size() >= 2 && parts[0] == "role") {
    p.kind = IamPrincipalKind::kRole;
    p.name = parts.back();
  } else if (arn.service == "sts" && parts.size() == 3 && parts[0] == "assumed-role") {
    p.kind = IamPrincipalKind::kRole;
    p.name = parts[1];
  } else {
    return invalid_argument("\"" + text +
                            "\" is neither an IAM user nor an IAM role (root account or federated user?); "
                            "run as an IAM user or role, or attach the policy by hand");
  }
  if (p.name.empty()) return invalid_argument("\"" + text + "\" has an empty user or role name");
  return p;
}

Result<std::string> check_policy_size(const std::string& minified_policy, const IamPrincipal& principal) {
  bool user = principal.kind == IamPrincipalKind::kUser;
  size_t limit = user ? kUserPolicyMaxBytes : kRolePolicyMaxBytes;
  const char* kind = user ? "user" : "role";
  size_t size = minified_policy.size();
  if (size > limit) {
    std::string fix =
        user ? "run the Database Service as an IAM role (10240 bytes) instead of an IAM user, or " : "";
    return limit_exceeded(
        "Maximum policy size of " + std::to_string(limit) + " bytes exceeded for " + kind + " " +
        principal.name + " (the policy is " + std::to_string(size) + " bytes): " + fix +
        "split the databases across IAM roles with assume_role_arn, or manage the policy by hand "
        "with \"Resource\": \"*\"");
  }
  if (size * 10 >= limit * 9) {
    return "the policy is " + std::to_string(size) + " bytes, " + std::to_string(size * 100 / limit) +
           "% of IAM's " + std::to_string(limit) + "-byte limit for " + kind +
           " policies; more databases may exceed it (consider assume_role_arn to split them across roles)";
  }
  return std::string();
}

Status put_inline_policy(const ApiContext& ctx, const Credentials& creds, const IamPrincipal& principal,
                         const std::string& policy_name, const std::string& policy_document) {
  bool user = principal.kind == IamPrincipalKind::kUser;
  QueryRequest q{"iam", "", kIamApiVersion, user ? "PutUserPolicy" : "PutRolePolicy", {}};
  q.params = {{user ? "UserName" : "RoleName", principal.name},
              {"PolicyName", policy_name},
              {"PolicyDocument", policy_document}};
  auto res = call_query_api(ctx, &creds, q);
  if (!res.ok()) {
    Error e = res.error();
    if (e.code == ErrorCode::kAccessDenied) {
      e.message += std::string("; the caller needs iam:") + (user ? "PutUserPolicy" : "PutRolePolicy") +
                   " on " + principal.arn + ", or attach the policy printed by print-iam by hand";
    }
    return e;
  }
  return {};
}

Result<AttachedPolicy> attach_database_policy(const ApiContext& ctx, const Credentials& creds,
                                              const std::vector<std::string>& types,
                                              const std::string& policy_name,
                                              const std::optional<IamPrincipal>& target) {
  AttachedPolicy out;
  if (target) {
    out.principal = *target;
  } else {
    auto caller = get_caller_identity(ctx, creds, "");
    if (!caller.ok()) return caller.error().wrap("finding the IAM identity to attach the policy to");
    TP_TRY(out.principal, parse_principal_arn(caller->arn));
  }
  TP_TRY(nlohmann::ordered_json policy, build_iam_policy(types));
  out.document = policy.dump();
  TP_TRY(out.warning, check_policy_size(out.document, out.principal));
  TP_CHECK(put_inline_policy(ctx, creds, out.principal, policy_name, out.document));
  return out;
}

}  // namespace tp::aws
