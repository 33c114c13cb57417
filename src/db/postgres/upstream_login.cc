#include "db/postgres/upstream_login.h"

#include <algorithm>

#include "protocol/postgres/backend_messages.h"
#include "protocol/postgres/frontend_messages.h"
#include "protocol/postgres/md5_password.h"

namespace tp::db {

UpstreamLogin::UpstreamLogin(std::string user, std::optional<std::string> password,
                             std::string missing_password, Rng& rng)
    : user_(std::move(user)),
      password_(std::move(password)),
      missing_password_(std::move(missing_password)),
      rng_(rng) {}

Result<std::string> UpstreamLogin::need_password() const {
  if (!password_) return unauthenticated("the database asked for a password: " + missing_password_);
  return *password_;
}

Result<UpstreamLogin::Step> UpstreamLogin::on_authentication(std::string_view payload) {
  TP_TRY(auto auth, pg::parse_authentication(payload));
  Step step;
  switch (auth.request) {
    case pg::AuthRequest::kOk:
      step.authenticated = true;
      return step;
    case pg::AuthRequest::kCleartextPassword: {
      TP_TRY(auto password, need_password());
      step.reply = pg::encode_password_message(password);
      return step;
    }
    case pg::AuthRequest::kMd5Password: {
      TP_TRY(auto password, need_password());
      TP_TRY(auto hashed, pg::compute_md5_password(user_, password, auth.md5_salt));
      step.reply = pg::encode_password_message(hashed);
      return step;
    }
    case pg::AuthRequest::kSasl: {
      bool offered = std::find(auth.sasl_mechanisms.begin(), auth.sasl_mechanisms.end(), pg::kScramSha256) !=
                     auth.sasl_mechanisms.end();
      if (!offered)
        return unauthenticated(
            "the database offers no SASL mechanism the agent supports (needs SCRAM-SHA-256)");
      TP_TRY(auto password, need_password());
      scram_.emplace(user_, password, rng_);
      step.reply = pg::encode_sasl_initial_response(scram_->mechanism(), scram_->client_first_message());
      return step;
    }
    case pg::AuthRequest::kSaslContinue: {
      if (!scram_) return unauthenticated("the database sent SASLContinue before SASL started");
      TP_TRY(auto final_message, scram_->client_final_message(auth.data));
      step.reply = pg::encode_sasl_response(final_message);
      return step;
    }
    case pg::AuthRequest::kSaslFinal: {
      if (!scram_) return unauthenticated("the database sent SASLFinal before SASL started");
      auto verified = scram_->verify_server_final(auth.data);
      if (!verified.ok())
        return unauthenticated("the database could not prove it knows the password (SCRAM): " +
                               verified.error().message);
      return step;
    }
    default:
      return unauthenticated("the database asks for an authentication method the agent does not support (" +
                             std::to_string(static_cast<int32_t>(auth.request)) +
                             "); use password, md5, scram-sha-256 or IAM authentication");
  }
}

}  // namespace tp::db
