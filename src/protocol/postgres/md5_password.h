// The answer to AuthenticationMD5Password. PostgreSQL documentation, "Message Flow" → "Start-up":
// the client sends concat('md5', md5hex(concat(md5hex(concat(password, username)), random-salt))).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tp::pg {

// "md5" followed by 32 lowercase hex digits; send it with encode_password_message. Fails only when
// OpenSSL cannot provide MD5 (e.g. a FIPS-only configuration).
Result<std::string> compute_md5_password(std::string_view user, std::string_view password,
                                         const std::array<uint8_t, 4>& salt);

}  // namespace tp::pg
