// AWS STS over the Query API (version 2011-06-15): AssumeRole (with external ID and role chaining),
// AssumeRoleWithWebIdentity (EKS IRSA) and GetCallerIdentity.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "aws/query_api.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "common/result.h"

namespace tp::aws {

inline constexpr const char* kStsApiVersion = "2011-06-15";

struct AssumeRoleRequest {
  std::string role_arn;
  std::string session_name = "teleport-db";
  std::string external_id;  // optional
  std::chrono::seconds duration{3600};
};

struct WebIdentityRequest {
  std::string role_arn;
  std::string session_name;
  std::string web_identity_token;  // the OIDC token itself, not the file name
  std::chrono::seconds duration{3600};
};

struct CallerIdentity {
  std::string account;
  std::string arn;
  std::string user_id;
};

// region: the STS regional endpoint to use; empty = the global endpoint (signed for us-east-1).
// On AccessDenied the error keeps AWS's message and says which trust relationship to fix.
Result<Credentials> assume_role(const ApiContext& ctx, const Credentials& caller, const std::string& region,
                                const AssumeRoleRequest& req);
// Unsigned: the web identity token is the proof.
Result<Credentials> assume_role_with_web_identity(const ApiContext& ctx, const std::string& region,
                                                  const WebIdentityRequest& req);
Result<CallerIdentity> get_caller_identity(const ApiContext& ctx, const Credentials& creds,
                                           const std::string& region);

// Role chaining: assumes chain[0] with `base`, then chain[1] with chain[0]'s credentials, and so
// on. AWS caps chained sessions at one hour, so longer durations are lowered.
Result<Credentials> assume_role_chain(const ApiContext& ctx, const Credentials& base,
                                      const std::string& region, const std::vector<AssumeRoleRequest>& chain);

// Pure parsers, exposed for tests. `result_name` is "AssumeRoleResult" or
// "AssumeRoleWithWebIdentityResult".
Result<Credentials> parse_sts_credentials(const xml::Element& root, const std::string& result_name);
Result<CallerIdentity> parse_caller_identity(const xml::Element& root);
// The caller ARN in an AccessDenied message ("User: arn:... is not authorized ..."), or "".
std::string caller_from_access_denied(const std::string& message);

}  // namespace tp::aws
