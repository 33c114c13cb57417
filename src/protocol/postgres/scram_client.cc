#include "protocol/postgres/scram_client.h"

#include <openssl/evp.h>

#include <charconv>
#include <vector>

#include "common/lru_cache.h"
#include "common/strings.h"

namespace tp::pg {

namespace {

constexpr size_t kKeyLength = 32;  // SHA-256 output
constexpr size_t kNonceBytes = 18;

Result<std::string> hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[kKeyLength];
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out,
                &len) == nullptr) {
    return internal_error("HMAC-SHA-256 failed in OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

Result<std::string> sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1) {
    return internal_error("SHA-256 failed in OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

// RFC 5802 section 2.2, Hi(): PBKDF2 with HMAC-SHA-256 and one output block.
Result<std::string> compute_salted_password(std::string_view password, std::string_view salt, int iterations) {
  unsigned char out[kKeyLength];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        iterations, EVP_sha256(), sizeof out, out) != 1) {
    return internal_error("PBKDF2-HMAC-SHA-256 failed in OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

// A server keeps one salt and iteration count per role, so the same password
// always salts to the same key: computing it (4096 HMACs by default) was the
// agent's largest cost per new connection. Keyed by a hash of the password,
// so the password itself is not kept twice; the salted key is as secret as
// the password and stays in this process's memory only, as the password does.
Result<std::string> salted_password(std::string_view password, std::string_view salt, int iterations) {
  static auto* cache = new LruCache<std::string, std::string>(256);  // never destroyed: used until exit
  TP_TRY(std::string password_hash, sha256(password));
  std::string key = password_hash + std::to_string(iterations) + ":" + std::string(salt);
  if (auto salted = cache->find(key)) return std::move(*salted);
  TP_TRY(std::string salted, compute_salted_password(password, salt, iterations));
  cache->put(std::move(key), salted);
  return salted;
}

// RFC 5802 section 5.1: "=" and "," in a saslname are written as "=3D" and "=2C".
std::string escape_saslname(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '=') {
      out += "=3D";
    } else if (c == ',') {
      out += "=2C";
    } else {
      out += c;
    }
  }
  return out;
}

Error scram_error(const std::string& what) {
  return unauthenticated("SCRAM-SHA-256 authentication with the database failed: " + what);
}

// The value of attribute `name` ("r=..."), which must be `attribute`.
Result<std::string_view> attribute_value(std::string_view attribute, char name, std::string_view message) {
  if (attribute.size() < 2 || attribute[0] != name || attribute[1] != '=') {
    return scram_error(std::string(message) + " lacks the '" + std::string(1, name) + "=' attribute");
  }
  return attribute.substr(2);
}

}  // namespace

ScramSha256Client::ScramSha256Client(std::string_view user, std::string_view password, Rng& rng,
                                     std::optional<ScramChannelBinding> channel_binding)
    : ScramSha256Client(
          user, password,
          [&rng] {
            auto b = rng.bytes(kNonceBytes);
            return base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
          }(),
          std::move(channel_binding)) {}

ScramSha256Client::ScramSha256Client(std::string_view user, std::string_view password, std::string nonce,
                                     std::optional<ScramChannelBinding> channel_binding)
    : user_(user),
      password_(password),
      client_nonce_(std::move(nonce)),
      channel_binding_(std::move(channel_binding)) {}

ScramSha256Client ScramSha256Client::with_nonce(std::string_view user, std::string_view password,
                                                std::string_view nonce,
                                                std::optional<ScramChannelBinding> channel_binding) {
  return ScramSha256Client(user, password, std::string(nonce), std::move(channel_binding));
}

// RFC 5802 section 7: gs2-header = gs2-cbind-flag "," [authzid] ",". We never send an authzid, and
// send "n" (no binding) rather than "y": "y" tells a server that offers -PLUS that we were downgraded.
std::string ScramSha256Client::gs2_header() const {
  return channel_binding_ ? "p=" + channel_binding_->type + ",," : "n,,";
}

std::string ScramSha256Client::client_first_bare() const {
  return "n=" + escape_saslname(user_) + ",r=" + client_nonce_;
}

std::string ScramSha256Client::client_first_message() const {
  return gs2_header() + client_first_bare();
}

Result<std::string> ScramSha256Client::client_final_message(std::string_view server_first) {
  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
  auto attrs = split(server_first, ',', /*skip_empty=*/false);
  if (!attrs.empty() && starts_with(attrs[0], "m=")) {
    return scram_error("the server requires an unsupported mandatory extension");
  }
  if (attrs.size() < 3)
    return scram_error("malformed server-first-message \"" + std::string(server_first) + "\"");
  TP_TRY(std::string_view server_nonce, attribute_value(attrs[0], 'r', "server-first-message"));
  TP_TRY(std::string_view salt_b64, attribute_value(attrs[1], 's', "server-first-message"));
  TP_TRY(std::string_view iterations_text, attribute_value(attrs[2], 'i', "server-first-message"));

  // The server appends its part to our nonce; anything else is a replay or a confused server.
  if (server_nonce.size() <= client_nonce_.size() || !starts_with(server_nonce, client_nonce_)) {
    return scram_error("the server's nonce does not extend the client's nonce");
  }
  auto salt = base64_decode(salt_b64);
  if (!salt.ok() || salt->empty()) return scram_error("the server's salt is not valid base64");
  int iterations = 0;
  auto [end, ec] =
      std::from_chars(iterations_text.data(), iterations_text.data() + iterations_text.size(), iterations);
  if (ec != std::errc() || end != iterations_text.data() + iterations_text.size() || iterations < 1) {
    return scram_error("invalid iteration count \"" + std::string(iterations_text) + "\"");
  }

  // RFC 5802 section 3: the proof and the signature the server must answer with.
  std::string cbind_input = gs2_header() + (channel_binding_ ? channel_binding_->data : std::string());
  std::string without_proof = "c=" + base64_encode(cbind_input) + ",r=" + std::string(server_nonce);
  std::string auth_message = client_first_bare() + "," + std::string(server_first) + "," + without_proof;

  TP_TRY(std::string salted, salted_password(password_, *salt, iterations));
  TP_TRY(std::string client_key, hmac_sha256(salted, "Client Key"));
  TP_TRY(std::string stored_key, sha256(client_key));
  TP_TRY(std::string client_signature, hmac_sha256(stored_key, auth_message));
  std::string proof = client_key;
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ client_signature[i]);
  TP_TRY(std::string server_key, hmac_sha256(salted, "Server Key"));
  TP_TRY(expected_server_signature_, hmac_sha256(server_key, auth_message));

  return without_proof + ",p=" + base64_encode(proof);
}

Status ScramSha256Client::verify_server_final(std::string_view server_final) const {
  if (expected_server_signature_.empty()) {
    return internal_error("SCRAM server-final-message checked before client_final_message was computed");
  }
  if (starts_with(server_final, "e="))
    return scram_error("the server answered \"" + std::string(server_final.substr(2)) + "\"");
  auto comma = server_final.find(',');  // extensions may follow the verifier
  TP_TRY(std::string_view signature_b64,
         attribute_value(server_final.substr(0, comma), 'v', "server-final-message"));
  auto signature = base64_decode(signature_b64);
  if (!signature.ok() || !constant_time_equal(*signature, expected_server_signature_)) {
    return scram_error(
        "the server's signature does not match: it does not know this password's verifier "
        "(a server impersonation, or a proxy tampering with the exchange)");
  }
  return {};
}

}  // namespace tp::pg
