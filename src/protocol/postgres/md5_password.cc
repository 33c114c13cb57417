#include "protocol/postgres/md5_password.h"

#include <openssl/evp.h>

#include "common/strings.h"

namespace tp::pg {

namespace {

Result<std::string> md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) != 1) {
    return internal_error(
        "MD5 is unavailable in this OpenSSL configuration; use SCRAM-SHA-256 authentication");
  }
  return to_hex(digest, len);
}

}  // namespace

Result<std::string> compute_md5_password(std::string_view user, std::string_view password,
                                         const std::array<uint8_t, 4>& salt) {
  std::string inner_input(password);
  inner_input.append(user);
  TP_TRY(std::string inner, md5_hex(inner_input));
  inner.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  TP_TRY(std::string outer, md5_hex(inner));
  return "md5" + outer;
}

}  // namespace tp::pg
