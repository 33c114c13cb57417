#include "aws/sts.h"

#include "common/strings.h"

namespace tp::aws {
namespace {

QueryRequest sts_request(const std::string& region, std::string action) {
  return QueryRequest{"sts", region, kStsApiVersion, std::move(action), {}};
}

}  // namespace

Result<Credentials> parse_sts_credentials(const xml::Element& root, const std::string& result_name) {
  const xml::Element* result = root.find(result_name);
  const xml::Element* creds = result ? result->child("Credentials") : nullptr;
  if (creds == nullptr) return internal_error("STS response has no " + result_name + "/Credentials element");
  Credentials out;
  out.access_key_id = creds->child_text("AccessKeyId");
  out.secret_access_key = creds->child_text("SecretAccessKey");
  out.session_token = creds->child_text("SessionToken");
  std::string expiration = creds->child_text("Expiration");
  if (out.access_key_id.empty() || out.secret_access_key.empty() || out.session_token.empty()) {
    return internal_error("STS response lacks AccessKeyId, SecretAccessKey or SessionToken");
  }
  auto t = parse_iso8601(expiration);
  if (!t) return internal_error("STS response has a bad Expiration \"" + expiration + "\"");
  out.expiration = *t;
  return out;
}

Result<CallerIdentity> parse_caller_identity(const xml::Element& root) {
  const xml::Element* result = root.find("GetCallerIdentityResult");
  if (result == nullptr) return internal_error("STS response has no GetCallerIdentityResult element");
  CallerIdentity out{result->child_text("Account"), result->child_text("Arn"), result->child_text("UserId")};
  if (out.arn.empty()) return internal_error("STS GetCallerIdentity response has no Arn");
  return out;
}

std::string caller_from_access_denied(const std::string& message) {
  const std::string marker = "User: ";
  size_t start = message.find(marker);
  if (start == std::string::npos) return "";
  start += marker.size();
  size_t end = message.find(' ', start);
  return message.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

Result<Credentials> assume_role(const ApiContext& ctx, const Credentials& caller, const std::string& region,
                                const AssumeRoleRequest& req) {
  if (req.role_arn.empty()) return invalid_argument("AssumeRole: the role ARN is empty");
  QueryRequest q = sts_request(region, "AssumeRole");
  q.params = {{"RoleArn", req.role_arn},
              {"RoleSessionName", req.session_name.empty() ? "teleport-db" : req.session_name},
              {"DurationSeconds", std::to_string(req.duration.count())}};
  if (!req.external_id.empty()) q.params.emplace_back("ExternalId", req.external_id);
  TP_TRY(QueryResponse res, send_query(ctx, &caller, q));
  if (res.error) {
    Error err = to_error(q, *res.error);
    if (res.error->code == "AccessDenied") {
      std::string who = caller_from_access_denied(res.error->message);
      if (who.empty()) who = "the caller (access key " + caller.access_key_id + ")";
      err.message += "; check the trust relationship of " + req.role_arn +
                     ": it must allow sts:AssumeRole by " + who +
                     (req.external_id.empty() ? "" : " with the configured external ID");
    }
    return err;
  }
  auto creds = parse_sts_credentials(res.root, "AssumeRoleResult");
  if (!creds.ok()) return creds.error().wrap("assuming " + req.role_arn);
  creds->source = "assumed role " + req.role_arn;
  return creds;
}

Result<Credentials> assume_role_with_web_identity(const ApiContext& ctx, const std::string& region,
                                                  const WebIdentityRequest& req) {
  if (req.role_arn.empty()) return invalid_argument("AssumeRoleWithWebIdentity: the role ARN is empty");
  if (req.web_identity_token.empty())
    return invalid_argument("AssumeRoleWithWebIdentity: the token is empty");
  QueryRequest q = sts_request(region, "AssumeRoleWithWebIdentity");
  q.params = {{"RoleArn", req.role_arn},
              {"RoleSessionName", req.session_name.empty() ? "teleport-db" : req.session_name},
              {"WebIdentityToken", req.web_identity_token},
              {"DurationSeconds", std::to_string(req.duration.count())}};
  TP_TRY(QueryResponse res, send_query(ctx, nullptr, q));
  if (res.error) {
    Error err = to_error(q, *res.error);
    if (res.error->code == "AccessDenied") {
      err.message += "; check the trust relationship of " + req.role_arn +
                     ": it must allow sts:AssumeRoleWithWebIdentity for this service account's OIDC provider";
    }
    return err;
  }
  auto creds = parse_sts_credentials(res.root, "AssumeRoleWithWebIdentityResult");
  if (!creds.ok()) return creds.error().wrap("assuming " + req.role_arn + " with a web identity");
  creds->source = "web identity role " + req.role_arn;
  return creds;
}

Result<CallerIdentity> get_caller_identity(const ApiContext& ctx, const Credentials& creds,
                                           const std::string& region) {
  QueryRequest q = sts_request(region, "GetCallerIdentity");
  TP_TRY(xml::Element root, call_query_api(ctx, &creds, q));
  return parse_caller_identity(root);
}

Result<Credentials> assume_role_chain(const ApiContext& ctx, const Credentials& base,
                                      const std::string& region,
                                      const std::vector<AssumeRoleRequest>& chain) {
  Credentials current = base;
  for (size_t i = 0; i < chain.size(); ++i) {
    AssumeRoleRequest req = chain[i];
    if (i > 0 && req.duration > std::chrono::seconds(3600)) req.duration = std::chrono::seconds(3600);
    auto next = assume_role(ctx, current, region, req);
    if (!next.ok()) {
      if (i == 0) return next.error();
      return next.error().wrap("role chaining step " + std::to_string(i + 1) + " (as " +
                               chain[i - 1].role_arn + ")");
    }
    current = std::move(*next);
  }
  return current;
}

}  // namespace tp::aws
