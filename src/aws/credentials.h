// Where the AWS client's credentials come from, in the reference's order (the AWS SDK for Go's
// default chain with shared config enabled):
//   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   2. shared credentials file: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
//      AWS_PROFILE or "default"
//   3. shared config: AWS_CONFIG_FILE or ~/.aws/config, "[profile NAME]"; role_arn with
//      source_profile assumes the role through STS
//   4. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN [+ AWS_ROLE_SESSION_NAME]
//   5. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED=true
//
// A provider whose source is not configured answers kNotFound and the chain moves on; any other
// error stops the chain, because a configured source that fails must be fixed, not skipped.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "aws/env.h"
#include "aws/query_api.h"
#include "aws/sigv4.h"
#include "aws/sts.h"
#include "common/clock.h"
#include "common/result.h"

namespace tp::aws {

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Result<Credentials> retrieve() = 0;
  // For messages: "environment", "shared credentials file", ...
  virtual std::string name() const = 0;
};

inline constexpr std::chrono::minutes kCredentialsRefreshWindow{5};
inline constexpr std::chrono::seconds kInstanceMetadataTimeout{1};

std::unique_ptr<CredentialsProvider> make_static_provider(Credentials creds);
std::unique_ptr<CredentialsProvider> make_environment_provider(const Env& env);
std::unique_ptr<CredentialsProvider> make_shared_credentials_file_provider(const Env& env);
// Needs the context for the STS call a role_arn profile makes.
std::unique_ptr<CredentialsProvider> make_shared_config_provider(const ApiContext& ctx);
std::unique_ptr<CredentialsProvider> make_web_identity_provider(const ApiContext& ctx);
// Uses kInstanceMetadataTimeout per call so it fails fast off EC2.
std::unique_ptr<CredentialsProvider> make_instance_metadata_provider(const ApiContext& ctx);

// Tries each provider in order; see the file comment for how errors are treated.
std::unique_ptr<CredentialsProvider> make_chain_provider(
    std::vector<std::unique_ptr<CredentialsProvider>> chain);

// Returns the last credentials until `refresh_before` ahead of their expiration (never, for
// long-lived keys). If a refresh fails while the old credentials have not expired, keeps them.
// Thread-safe.
std::unique_ptr<CredentialsProvider> make_caching_provider(
    std::unique_ptr<CredentialsProvider> inner, const Clock& clock,
    std::chrono::seconds refresh_before = kCredentialsRefreshWindow);

// The five sources above, in order, cached.
std::unique_ptr<CredentialsProvider> make_default_credentials_chain(const ApiContext& ctx);

// Credentials of `req.role_arn`, assumed with `base`'s credentials through STS in `region`
// (empty = global endpoint), cached. `base` must outlive the provider.
std::unique_ptr<CredentialsProvider> make_assume_role_provider(const ApiContext& ctx,
                                                               CredentialsProvider& base, std::string region,
                                                               AssumeRoleRequest req);

}  // namespace tp::aws
