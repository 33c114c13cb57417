// Providers 4 and 5 of the chain (see credentials.h): web identity (EKS IRSA) and EC2 instance
// metadata (IMDSv2: "Use IMDSv2", EC2 User Guide — PUT a session token, then GET with it).
#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "aws/sts.h"
#include "common/files.h"
#include "common/strings.h"

namespace tp::aws {
namespace {

constexpr const char* kDefaultImdsEndpoint = "http://169.254.169.254";
constexpr const char* kImdsTokenTtlSeconds = "21600";  // the SDKs' default: 6 hours

class WebIdentityProvider final : public CredentialsProvider {
 public:
  explicit WebIdentityProvider(const ApiContext& ctx) : ctx_(ctx) {}

  Result<Credentials> retrieve() override {
    auto token_file = ctx_.env.get("AWS_WEB_IDENTITY_TOKEN_FILE");
    auto role_arn = ctx_.env.get("AWS_ROLE_ARN");
    if (!token_file && !role_arn)
      return not_found("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set");
    if (!token_file)
      return invalid_argument("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not: set both");
    if (!role_arn)
      return invalid_argument("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set both");
    // Read on every refresh: the kubelet rotates the projected token.
    auto token = read_file(*token_file);
    if (!token.ok()) return token.error().wrap("AWS_WEB_IDENTITY_TOKEN_FILE");
    WebIdentityRequest req;
    req.role_arn = *role_arn;
    req.session_name = ctx_.env.get("AWS_ROLE_SESSION_NAME")
                           .value_or("teleport-" + std::to_string(to_unix_seconds(ctx_.clock.now())));
    req.web_identity_token = trim(*token);
    return assume_role_with_web_identity(ctx_, region_from_env(ctx_.env), req);
  }
  std::string name() const override { return "web identity"; }

 private:
  ApiContext ctx_;
};

class InstanceMetadataProvider final : public CredentialsProvider {
 public:
  explicit InstanceMetadataProvider(const ApiContext& ctx) : ctx_(ctx) {}

  Result<Credentials> retrieve() override {
    if (auto disabled = ctx_.env.get("AWS_EC2_METADATA_DISABLED");
        disabled && to_lower(*disabled) == "true") {
      return not_found("disabled by AWS_EC2_METADATA_DISABLED=true");
    }
    std::string base = ctx_.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(kDefaultImdsEndpoint);
    while (!base.empty() && base.back() == '/') base.pop_back();

    auto token = call("PUT", base + "/latest/api/token",
                      {{"X-aws-ec2-metadata-token-ttl-seconds", kImdsTokenTtlSeconds}});
    if (!token.ok()) {
      return not_found("no instance metadata service at " + base +
                       " (not running on EC2?): " + token.error().message);
    }
    HttpHeaders auth{{"X-aws-ec2-metadata-token", trim(*token)}};
    std::string creds_url = base + "/latest/meta-data/iam/security-credentials/";
    auto roles = call("GET", creds_url, auth);
    if (!roles.ok()) {
      if (roles.error().code == ErrorCode::kNotFound) {
        return not_found(
            "this EC2 instance has no IAM instance profile: attach one with the database policy");
      }
      return roles.error();
    }
    std::string role = trim(roles->substr(0, roles->find('\n')));  // one role per profile
    if (role.empty()) return not_found("this EC2 instance has no IAM instance profile: attach one");
    TP_TRY(std::string body, call("GET", creds_url + role, auth));
    return parse(body, role);
  }
  std::string name() const override { return "EC2 instance metadata"; }

 private:
  Result<std::string> call(const std::string& method, const std::string& url, HttpHeaders headers) {
    HttpRequest req{method, url, std::move(headers), ""};
    auto res = ctx_.transport.send(
        req, std::chrono::duration_cast<std::chrono::milliseconds>(kInstanceMetadataTimeout));
    if (!res.ok()) return res.error();
    if (res->status == 404) return not_found(method + " " + url + ": 404");
    if (res->status != 200) {
      return unavailable(method + " " + url + ": HTTP " + std::to_string(res->status) + " " +
                         trim(res->body.substr(0, 200)));
    }
    return std::move(res->body);
  }

  Result<Credentials> parse(const std::string& body, const std::string& role) {
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return internal_error("instance metadata credentials for role " + role + " are not JSON");
    }
    if (j.value("Code", "Success") != "Success") {
      return unavailable("instance metadata credentials for role " + role + ": " + j.value("Code", "") + " " +
                         j.value("Message", ""));
    }
    Credentials c;
    c.access_key_id = j.value("AccessKeyId", "");
    c.secret_access_key = j.value("SecretAccessKey", "");
    c.session_token = j.value("Token", "");
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return internal_error("instance metadata credentials for role " + role +
                            " lack AccessKeyId/SecretAccessKey");
    }
    if (auto exp = j.value("Expiration", ""); !exp.empty()) {
      auto t = parse_iso8601(exp);
      if (!t) return internal_error("instance metadata credentials have a bad Expiration \"" + exp + "\"");
      c.expiration = *t;
    }
    c.source = "EC2 instance profile role " + role;
    return c;
  }

  ApiContext ctx_;
};

}  // namespace

std::unique_ptr<CredentialsProvider> make_web_identity_provider(const ApiContext& ctx) {
  return std::make_unique<WebIdentityProvider>(ctx);
}

std::unique_ptr<CredentialsProvider> make_instance_metadata_provider(const ApiContext& ctx) {
  return std::make_unique<InstanceMetadataProvider>(ctx);
}

}  // namespace tp::aws
