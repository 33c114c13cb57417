// Authentication plugin computations (dev.mysql.com "Authentication Methods": Native
// Authentication, Clear text client plugin, SHA-2 Pluggable Authentication /
// caching_sha2_password). Pure functions; the salt is the 20-byte scramble from HandshakeV10 or
// AuthSwitchRequest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/rng.h"

namespace tp::mysql {

inline constexpr std::string_view kNativePasswordPlugin = "mysql_native_password";
inline constexpr std::string_view kCachingSha2PasswordPlugin = "caching_sha2_password";
inline constexpr std::string_view kClearPasswordPlugin = "mysql_clear_password";

// caching_sha2_password's AuthMoreData codes (the byte after 0x01).
inline constexpr uint8_t kCachingSha2RequestPublicKey = 0x02;
inline constexpr uint8_t kCachingSha2FastAuthSuccess = 0x03;
inline constexpr uint8_t kCachingSha2PerformFullAuth = 0x04;

// mysql_native_password: SHA1(password) XOR SHA1(salt + SHA1(SHA1(password))). An empty password
// gives an empty response, as libmysqlclient sends.
std::string native_password_scramble(std::string_view password, std::string_view salt);

// caching_sha2_password fast path: SHA256(password) XOR SHA256(SHA256(SHA256(password)) + salt).
// An empty password gives an empty response.
std::string caching_sha2_scramble(std::string_view password, std::string_view salt);

// What the client sends after caching_sha2_password's "perform full authentication" (0x01 0x04)
// when the connection is TLS: the password in clear, NUL-terminated. Never send it without TLS.
std::string caching_sha2_full_auth_response(std::string_view password);

// mysql_clear_password (used with RDS IAM tokens and PAM): the password, NUL-terminated.
std::string clear_password_response(std::string_view password);

enum class CachingSha2Step { kFastAuthSuccess, kPerformFullAuth, kOther };
// Classifies the data of an AuthMoreData packet (without its 0x01 header) during
// caching_sha2_password.
CachingSha2Step classify_caching_sha2_more_data(std::string_view data);

// The scramble inside auth plugin data: mysqld appends a NUL to the 20 bytes in AuthSwitchRequest.
std::string_view scramble_from_plugin_data(std::string_view data);

// A fresh 20-byte scramble as mysqld makes it (generate_user_salt): 7-bit bytes, never NUL or '$',
// because some clients read the scramble as a NUL-terminated string.
std::string make_scramble(Rng& rng);

}  // namespace tp::mysql
