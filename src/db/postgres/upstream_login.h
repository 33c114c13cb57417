// The agent's side of PostgreSQL authentication with the real server
// (PostgreSQL "Message Flow" -> "Start-up", "SASL Authentication"): answers
// AuthenticationCleartextPassword, AuthenticationMD5Password and SCRAM-SHA-256
// with the upstream credential (a password or an RDS IAM token). Pure: feed it
// the server's Authentication messages, send what it returns.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/rng.h"
#include "protocol/postgres/scram_client.h"

namespace tp::db {

class UpstreamLogin {
 public:
  // `password` is nullopt when none is configured; `missing_password` then
  // explains how to configure one, should the server ask.
  UpstreamLogin(std::string user, std::optional<std::string> password, std::string missing_password,
                Rng& rng);

  struct Step {
    std::string reply;           // a complete message to send upstream; may be empty
    bool authenticated = false;  // AuthenticationOk arrived
  };
  // The payload of one 'R' (Authentication) message.
  Result<Step> on_authentication(std::string_view payload);

 private:
  Result<std::string> need_password() const;

  std::string user_;
  std::optional<std::string> password_;
  std::string missing_password_;
  Rng& rng_;
  std::optional<pg::ScramSha256Client> scram_;
};

}  // namespace tp::db
