// TOTP (RFC 6238) over HOTP (RFC 4226), the half of password.h that deals
// with one-time codes.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>

#include "common/strings.h"
#include "crypto/internal/base32.h"
#include "crypto/password.h"

namespace tp {

namespace crypto_internal {

namespace {
constexpr const char* kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
}  // namespace

std::string base32_encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 0x1F]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1F]);
  return out;
}

Result<std::string> base32_decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char ch : text) {
    if (ch == ' ') continue;
    if (ch == '=') {
      padding = true;
      continue;
    }
    if (padding) return invalid_argument("base32 text has data after \"=\" padding");
    int v;
    if (ch >= 'A' && ch <= 'Z') {
      v = ch - 'A';
    } else if (ch >= 'a' && ch <= 'z') {
      v = ch - 'a';
    } else if (ch >= '2' && ch <= '7') {
      v = ch - '2' + 26;
    } else {
      return invalid_argument(std::string("base32 text contains \"") + ch + "\"; only A-Z and 2-7 are allowed");
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace crypto_internal

namespace {

constexpr int64_t kTotpStepSeconds = 30;  // RFC 6238 section 4.1, X
constexpr uint32_t kTotpModulus = 1'000'000;  // 6 digits
constexpr size_t kTotpSecretBytes = 20;   // RFC 4226 section 4 recommends 160 bits

// RFC 4226 section 5.3: HMAC-SHA-1 over the big-endian counter, dynamic truncation.
Result<std::string> hotp(const std::string& key, uint64_t counter) {
  unsigned char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<unsigned char>(counter & 0xFF);
    counter >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), msg, sizeof msg, mac, &mac_len) == nullptr ||
      mac_len < 20) {
    return internal_error("computing HMAC-SHA1 for a one-time code");
  }
  int offset = mac[mac_len - 1] & 0x0F;
  uint32_t bin = (uint32_t(mac[offset] & 0x7F) << 24) | (uint32_t(mac[offset + 1]) << 16) |
                 (uint32_t(mac[offset + 2]) << 8) | uint32_t(mac[offset + 3]);
  std::string code = std::to_string(bin % kTotpModulus);
  return std::string(6 - code.size(), '0') + code;
}

Result<std::string> decode_secret(const std::string& base32_secret) {
  auto key = crypto_internal::base32_decode(base32_secret);
  if (!key.ok()) return key.error().wrap("reading the one-time password secret");
  if (key->empty()) return invalid_argument("one-time password secret is empty");
  return key;
}

}  // namespace

Result<std::string> totp_code(const std::string& base32_secret, TimePoint t) {
  TP_TRY(std::string key, decode_secret(base32_secret));
  int64_t secs = to_unix_seconds(t);
  if (secs < 0) return invalid_argument("one-time codes are not defined before 1970");
  return hotp(key, static_cast<uint64_t>(secs / kTotpStepSeconds));
}

bool verify_totp(const std::string& base32_secret, const std::string& code, TimePoint t) {
  if (code.size() != 6) return false;
  bool match = false;
  // One step either side absorbs clock drift and the time it takes to type.
  for (int step = -1; step <= 1; ++step) {
    auto expected = totp_code(base32_secret, t + std::chrono::seconds(step * kTotpStepSeconds));
    if (!expected.ok()) return false;
    match |= constant_time_equal(*expected, code);
  }
  return match;
}

std::string new_totp_secret(Rng& rng) {
  std::vector<uint8_t> bytes = rng.bytes(kTotpSecretBytes);
  return crypto_internal::base32_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace tp
