#include "db/upstream_credentials.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>

#include "aws/credentials.h"
#include "aws/env.h"
#include "aws/http_transport.h"
#include "aws/rds_auth_token.h"
#include "common/files.h"
#include "common/strings.h"

namespace tp::db {
namespace {

class RdsIamTokenProvider final : public IamTokenProvider {
 public:
  explicit RdsIamTokenProvider(const Clock& clock)
      : clock_(clock),
        transport_(aws::make_http_transport()),
        ctx_{*transport_, aws::system_env(), clock_},
        base_(aws::make_default_credentials_chain(ctx_)),
        tokens_(clock_) {}

  Result<std::string> token(const Database& db, const std::string& db_user) override {
    TP_TRY(auto hp, parse_host_port(db.uri));
    std::string region = db.aws.region;
    if (region.empty()) region = region_from_rds_host(hp.host);
    if (region.empty()) region = aws::region_from_env(aws::system_env());
    if (region.empty())
      return invalid_argument("database \"" + db.name +
                              "\": set aws.region, the IAM token is signed for a region");
    TP_TRY(auto creds, provider_for(db, region).retrieve());
    return tokens_.get(aws::RdsTokenRequest{hp.host, hp.port, region, db_user}, creds);
  }

 private:
  aws::CredentialsProvider& provider_for(const Database& db, const std::string& region) {
    if (db.aws.assume_role_arn.empty()) return *base_;
    std::lock_guard lock(mu_);
    auto key = db.aws.assume_role_arn + "|" + db.aws.external_id + "|" + region;
    auto& slot = assumed_[key];
    if (!slot) {
      aws::AssumeRoleRequest req;
      req.role_arn = db.aws.assume_role_arn;
      req.external_id = db.aws.external_id;
      slot = aws::make_assume_role_provider(ctx_, *base_, region, req);
    }
    return *slot;
  }

  const Clock& clock_;
  std::unique_ptr<aws::HttpTransport> transport_;
  aws::ApiContext ctx_;
  std::unique_ptr<aws::CredentialsProvider> base_;
  aws::RdsTokenCache tokens_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<aws::CredentialsProvider>> assumed_;
};

class ConfiguredCredentials final : public UpstreamCredentials {
 public:
  ConfiguredCredentials(std::unique_ptr<IamTokenProvider> iam, EnvLookup env)
      : iam_(std::move(iam)), env_(std::move(env)) {}

  Result<std::string> password(const Database& db, const std::string& db_user) override {
    if (db.iam_auth()) {
      if (!iam_) return unavailable("database \"" + db.name + "\": IAM auth is not available in this build");
      auto token = iam_->token(db, db_user);
      if (!token.ok()) return token.error().wrap("generating an RDS IAM auth token for \"" + db.name + "\"");
      return token;
    }
    if (!db.password_file.empty()) {
      auto text = read_file(db.password_file);
      if (!text.ok())
        return unavailable("database \"" + db.name + "\": cannot read password_file " + db.password_file);
      std::string secret = *text;
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
      return secret;
    }
    if (auto value = env_(password_env_var(db.name))) return *value;
    return not_found("no password is configured for database \"" + db.name +
                     "\": set password_file in its "
                     "db_service.databases entry or the " +
                     password_env_var(db.name) + " environment variable of the Database Service");
  }

 private:
  std::unique_ptr<IamTokenProvider> iam_;
  EnvLookup env_;
};

}  // namespace

std::unique_ptr<IamTokenProvider> make_rds_iam_token_provider(const Clock& clock) {
  return std::make_unique<RdsIamTokenProvider>(clock);
}

EnvLookup system_env_lookup() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
}

std::unique_ptr<UpstreamCredentials> make_upstream_credentials(std::unique_ptr<IamTokenProvider> iam,
                                                               EnvLookup env) {
  return std::make_unique<ConfiguredCredentials>(std::move(iam), std::move(env));
}

std::string password_env_var(const std::string& db_name) {
  std::string out = "TELEPORT_DB_PASSWORD_";
  for (unsigned char c : db_name) out.push_back(std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_');
  return out;
}

std::string region_from_rds_host(const std::string& host) {
  static const std::string kSuffix = ".rds.amazonaws.com";
  std::string h = to_lower(host);
  if (!ends_with(h, kSuffix)) return "";
  auto parts = split(h.substr(0, h.size() - kSuffix.size()), '.');
  return parts.empty() ? "" : parts.back();
}

}  // namespace tp::db
