#include "protocol/mysql/auth.h"

#include <openssl/evp.h>

#include <cassert>
#include <cstdlib>

#include "protocol/mysql/constants.h"

namespace tp::mysql {
namespace {

std::string digest(const EVP_MD* md, std::string_view a, std::string_view b = {}) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
                  EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1;
  EVP_MD_CTX_free(ctx);
  // SHA-1 and SHA-256 over memory only fail when OpenSSL itself is broken: a programmer error.
  if (!ok) std::abort();
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string xor_bytes(const std::string& a, const std::string& b) {
  assert(a.size() == b.size());
  std::string out(a.size(), '\0');
  for (size_t i = 0; i < a.size(); ++i) out[i] = static_cast<char>(a[i] ^ b[i]);
  return out;
}

std::string nul_terminated(std::string_view password) {
  std::string out(password);
  out.push_back('\0');
  return out;
}

}  // namespace

std::string native_password_scramble(std::string_view password, std::string_view salt) {
  if (password.empty()) return {};
  const std::string stage1 = digest(EVP_sha1(), password);
  const std::string stage2 = digest(EVP_sha1(), stage1);
  return xor_bytes(stage1, digest(EVP_sha1(), salt, stage2));
}

std::string caching_sha2_scramble(std::string_view password, std::string_view salt) {
  if (password.empty()) return {};
  const std::string stage1 = digest(EVP_sha256(), password);
  const std::string stage2 = digest(EVP_sha256(), stage1);
  return xor_bytes(stage1, digest(EVP_sha256(), stage2, salt));
}

std::string caching_sha2_full_auth_response(std::string_view password) {
  return nul_terminated(password);
}

std::string clear_password_response(std::string_view password) {
  return nul_terminated(password);
}

CachingSha2Step classify_caching_sha2_more_data(std::string_view data) {
  if (data.size() != 1) return CachingSha2Step::kOther;
  switch (static_cast<uint8_t>(data[0])) {
    case kCachingSha2FastAuthSuccess:
      return CachingSha2Step::kFastAuthSuccess;
    case kCachingSha2PerformFullAuth:
      return CachingSha2Step::kPerformFullAuth;
    default:
      return CachingSha2Step::kOther;
  }
}

std::string_view scramble_from_plugin_data(std::string_view data) {
  if (data.size() == kScrambleLength + 1 && data.back() == '\0') data.remove_suffix(1);
  return data;
}

std::string make_scramble(Rng& rng) {
  std::string out(kScrambleLength, '\0');
  rng.fill(reinterpret_cast<uint8_t*>(out.data()), out.size());
  for (char& c : out) {
    c = static_cast<char>(c & 0x7F);
    if (c == '\0' || c == '$') ++c;
  }
  return out;
}

}  // namespace tp::mysql
