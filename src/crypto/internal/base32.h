// RFC 4648 section 6 base32 (the alphabet A-Z 2-7), as authenticator apps use
// for TOTP secrets.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace tp::crypto_internal {

// Without "=" padding.
std::string base32_encode(std::string_view bytes);
// Accepts lower case, spaces (as apps display secrets in groups) and "=" padding.
Result<std::string> base32_decode(std::string_view text);

}  // namespace tp::crypto_internal
