// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: PostgreSQL
// documentation, "Frontend/Backend Protocol" → "SASL Authentication" → "SCRAM-SHA-256
// Authentication". The exchange, with the messages that carry each step:
//
//   AuthenticationSASL (mechanisms)         → SASLInitialResponse(mechanism(), client_first_message())
//   AuthenticationSASLContinue (server-first) → SASLResponse(client_final_message(server_first))
//   AuthenticationSASLFinal (server-final)  → verify_server_final(server_final), then AuthenticationOk
//
// Differences from the RFC that PostgreSQL documents: the user name in client-first is ignored (the
// server uses the StartupMessage's "user"), and libpq sends it empty ("n=,"); that is the default
// here. The password is used as given: PostgreSQL SASLprep-normalizes it first, which changes only
// non-ASCII passwords (IAM tokens and generated passwords are ASCII).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/rng.h"

namespace tp::pg {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";

// Channel binding for SCRAM-SHA-256-PLUS. PostgreSQL supports only "tls-server-end-point" (RFC 5929):
// `data` is the hash of the server's DER certificate with its signature's hash (SHA-256 when that is
// MD5 or SHA-1).
struct ScramChannelBinding {
  std::string type = "tls-server-end-point";
  std::string data;
};

class ScramSha256Client {
 public:
  // Draws an 18-byte nonce from `rng` (base64: 24 characters, as libpq does).
  ScramSha256Client(std::string_view user, std::string_view password, Rng& rng,
                    std::optional<ScramChannelBinding> channel_binding = std::nullopt);
  // A fixed client nonce, for test vectors. The nonce must be printable ASCII without ','.
  static ScramSha256Client with_nonce(std::string_view user, std::string_view password,
                                      std::string_view nonce,
                                      std::optional<ScramChannelBinding> channel_binding = std::nullopt);

  // "SCRAM-SHA-256", or "SCRAM-SHA-256-PLUS" with channel binding.
  std::string_view mechanism() const { return channel_binding_ ? kScramSha256Plus : kScramSha256; }
  // gs2-header "n,," (or "p=tls-server-end-point,,") + "n=<user>,r=<nonce>".
  std::string client_first_message() const;
  // Checks server-first ("r=<nonce>,s=<salt>,i=<iterations>") and returns client-final
  // ("c=<binding>,r=<nonce>,p=<proof>"). Fails on a nonce that does not extend ours, a bad salt or
  // iteration count, or a mandatory extension.
  Result<std::string> client_final_message(std::string_view server_first);
  // Checks server-final ("v=<signature>"): proves the server knew the password's verifier. Fails on
  // "e=<error>", a mismatch, or when called before client_final_message.
  Status verify_server_final(std::string_view server_final) const;

 private:
  ScramSha256Client(std::string_view user, std::string_view password, std::string nonce,
                    std::optional<ScramChannelBinding> channel_binding);
  std::string gs2_header() const;
  std::string client_first_bare() const;

  std::string user_;
  std::string password_;
  std::string client_nonce_;
  std::optional<ScramChannelBinding> channel_binding_;
  std::string expected_server_signature_;  // set by client_final_message
};

}  // namespace tp::pg
