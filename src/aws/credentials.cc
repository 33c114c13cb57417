// The chain, the cache and the simple providers. Shared files live in shared_config.cc; web
// identity and instance metadata in remote_credentials.cc.
#include "aws/credentials.h"

#include <mutex>
#include <optional>

#include "common/log.h"
#include "common/strings.h"

namespace tp::aws {
namespace {

constexpr const char* kNoCredentials =
    "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
    "web identity (IRSA) or run on EC2 with an instance profile";

class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials creds) : creds_(std::move(creds)) {
    if (creds_.source.empty()) creds_.source = "static";
  }
  Result<Credentials> retrieve() override { return creds_; }
  std::string name() const override { return "static credentials"; }

 private:
  Credentials creds_;
};

class EnvironmentProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentProvider(const Env& env) : env_(env) {}

  Result<Credentials> retrieve() override {
    // AWS_ACCESS_KEY / AWS_SECRET_KEY are the older names the Go SDK still reads.
    auto id = env_.get("AWS_ACCESS_KEY_ID");
    if (!id) id = env_.get("AWS_ACCESS_KEY");
    auto secret = env_.get("AWS_SECRET_ACCESS_KEY");
    if (!secret) secret = env_.get("AWS_SECRET_KEY");
    if (!id && !secret) return not_found("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
    if (!id) return invalid_argument("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both");
    if (!secret)
      return invalid_argument("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both");
    Credentials c;
    c.access_key_id = trim(*id);
    c.secret_access_key = trim(*secret);
    c.session_token = trim(env_.get("AWS_SESSION_TOKEN").value_or(""));
    c.source = "environment";
    return c;
  }
  std::string name() const override { return "environment"; }

 private:
  const Env& env_;
};

class ChainProvider final : public CredentialsProvider {
 public:
  explicit ChainProvider(std::vector<std::unique_ptr<CredentialsProvider>> chain)
      : chain_(std::move(chain)) {}

  Result<Credentials> retrieve() override {
    std::vector<std::string> tried;
    for (auto& p : chain_) {
      auto creds = p->retrieve();
      if (creds.ok()) return creds;
      if (creds.error().code != ErrorCode::kNotFound)
        return creds.error().wrap("AWS credentials from " + p->name());
      tried.push_back(p->name() + ": " + creds.error().message);
    }
    return not_found(std::string(kNoCredentials) + " (tried " + join(tried, "; ") + ")");
  }
  std::string name() const override { return "credential chain"; }

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> chain_;
};

class CachingProvider final : public CredentialsProvider {
 public:
  CachingProvider(std::unique_ptr<CredentialsProvider> inner, const Clock& clock, std::chrono::seconds before)
      : inner_(std::move(inner)), clock_(clock), before_(before) {}

  Result<Credentials> retrieve() override {
    std::lock_guard<std::mutex> lock(mu_);
    TimePoint now = clock_.now();
    if (cached_ && (!cached_->expiration || now < *cached_->expiration - before_)) return *cached_;
    auto fresh = inner_->retrieve();
    if (!fresh.ok()) {
      if (cached_ && now < *cached_->expiration) {
        log::warn("aws", "refreshing AWS credentials failed; using the current ones until they expire",
                  {{"error", fresh.error().message}});
        return *cached_;
      }
      return fresh.error();
    }
    cached_ = *fresh;
    return fresh;
  }
  std::string name() const override { return inner_->name(); }

 private:
  std::unique_ptr<CredentialsProvider> inner_;
  const Clock& clock_;
  std::chrono::seconds before_;
  std::mutex mu_;
  std::optional<Credentials> cached_;
};

class AssumeRoleProvider final : public CredentialsProvider {
 public:
  AssumeRoleProvider(const ApiContext& ctx, CredentialsProvider& base, std::string region,
                     AssumeRoleRequest req)
      : ctx_(ctx), base_(base), region_(std::move(region)), req_(std::move(req)) {}

  Result<Credentials> retrieve() override {
    TP_TRY(Credentials base, base_.retrieve());
    return assume_role(ctx_, base, region_, req_);
  }
  std::string name() const override { return "assumed role " + req_.role_arn; }

 private:
  ApiContext ctx_;
  CredentialsProvider& base_;
  std::string region_;
  AssumeRoleRequest req_;
};

}  // namespace

std::unique_ptr<CredentialsProvider> make_static_provider(Credentials creds) {
  return std::make_unique<StaticProvider>(std::move(creds));
}

std::unique_ptr<CredentialsProvider> make_environment_provider(const Env& env) {
  return std::make_unique<EnvironmentProvider>(env);
}

std::unique_ptr<CredentialsProvider> make_chain_provider(
    std::vector<std::unique_ptr<CredentialsProvider>> chain) {
  return std::make_unique<ChainProvider>(std::move(chain));
}

std::unique_ptr<CredentialsProvider> make_caching_provider(std::unique_ptr<CredentialsProvider> inner,
                                                           const Clock& clock,
                                                           std::chrono::seconds refresh_before) {
  return std::make_unique<CachingProvider>(std::move(inner), clock, refresh_before);
}

std::unique_ptr<CredentialsProvider> make_default_credentials_chain(const ApiContext& ctx) {
  std::vector<std::unique_ptr<CredentialsProvider>> chain;
  chain.push_back(make_environment_provider(ctx.env));
  chain.push_back(make_shared_credentials_file_provider(ctx.env));
  chain.push_back(make_shared_config_provider(ctx));
  chain.push_back(make_web_identity_provider(ctx));
  chain.push_back(make_instance_metadata_provider(ctx));
  return make_caching_provider(make_chain_provider(std::move(chain)), ctx.clock);
}

std::unique_ptr<CredentialsProvider> make_assume_role_provider(const ApiContext& ctx,
                                                               CredentialsProvider& base, std::string region,
                                                               AssumeRoleRequest req) {
  return make_caching_provider(
      std::make_unique<AssumeRoleProvider>(ctx, base, std::move(region), std::move(req)), ctx.clock);
}

}  // namespace tp::aws
