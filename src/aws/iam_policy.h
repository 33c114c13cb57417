// The IAM policy the Database Service needs (`teleport db configure aws print-iam / create-iam`),
// its size limits, and attaching it as an inline policy to the caller's IAM user or role through
// the IAM Query API (version 2010-05-08).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "aws/query_api.h"
#include "aws/sigv4.h"
#include "common/result.h"

namespace tp::aws {

inline constexpr const char* kIamApiVersion = "2010-05-08";
// IAM's inline policy limits (whitespace not counted): "Maximum policy size of 2048 bytes
// exceeded for user" / "of 10240 bytes exceeded for role".
inline constexpr size_t kUserPolicyMaxBytes = 2048;
inline constexpr size_t kRolePolicyMaxBytes = 10240;

// "rds", "rds-proxy", "redshift", "redshift-serverless".
const std::vector<std::string>& iam_policy_types();

// The policy document for the given database types, statements in type order, duplicates
// removed. For {"rds"} this is exactly the guide's policy (Sids RDSAutoEnableIAMAuth,
// RDSConnect, RDSFetchMetadata; Resource "*"). Keys keep the guide's order. An unknown type is an
// error listing the valid ones.
Result<nlohmann::ordered_json> build_iam_policy(const std::vector<std::string>& types);

enum class IamPrincipalKind { kUser, kRole };

struct IamPrincipal {
  IamPrincipalKind kind = IamPrincipalKind::kRole;
  std::string name;  // user or role name, without path
  std::string account_id;
  std::string arn;
};

// "arn:aws:iam::123:user/path/alice" -> user alice; "arn:aws:iam::123:role/r" and
// "arn:aws:sts::123:assumed-role/r/session" -> role r (the caller of GetCallerIdentity).
Result<IamPrincipal> parse_principal_arn(const std::string& arn);

// "" when the minified policy fits comfortably; a warning when it is at least 90 % of the limit
// for the principal's kind; kLimitExceeded when over, with what to do about it.
Result<std::string> check_policy_size(const std::string& minified_policy, const IamPrincipal& principal);

// `teleport db configure aws create-iam`: finds the caller with STS GetCallerIdentity (unless
// `target` names the user or role), builds the policy for `types`, checks its size and attaches it.
struct AttachedPolicy {
  IamPrincipal principal;
  std::string document;  // minified JSON, as sent
  std::string warning;   // from check_policy_size; "" when none
};
Result<AttachedPolicy> attach_database_policy(const ApiContext& ctx, const Credentials& creds,
                                              const std::vector<std::string>& types,
                                              const std::string& policy_name,
                                              const std::optional<IamPrincipal>& target = std::nullopt);

// PutUserPolicy or PutRolePolicy, by the principal's kind.
Status put_inline_policy(const ApiContext& ctx, const Credentials& creds, const IamPrincipal& principal,
                         const std::string& policy_name, const std::string& policy_document);

}  // namespace tp::aws
