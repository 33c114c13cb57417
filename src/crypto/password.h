// Password hashing (Argon2id, encoded string form) and one-time passwords.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "common/rng.h"

namespace tp {

// "$argon2id$v=19$m=...,t=...,p=...$salt$hash"
Result<std::string> hash_password(const std::string& password, Rng& rng);
bool verify_password(const std::string& password, const std::string& encoded_hash);
// Length and content rules; error names the rule.
Status check_password_strength(const std::string& password);

// Each hash or check takes a 19 MiB Argon2 work area. glibc serves the first one with mmap, then
// raises its mmap threshold to that size, so every later one comes from the calling thread's heap
// and stays resident once freed: 20 MiB for every thread that ever checked a password, half of an
// idle proxy's memory. This fixes the threshold at 16 MiB, so work areas that size are mapped and
// returned to the system when freed. Long-running processes call it once at start. Under tcmalloc,
// which the binaries link, this does nothing: each hash or check hands its work area back itself.
void return_password_work_areas_to_the_system();

// RFC 6238 TOTP (SHA-1, 30 s, 6 digits) over a base32 secret.
Result<std::string> totp_code(const std::string& base32_secret, TimePoint t);
// Accepts the code for t-30s, t, t+30s.
bool verify_totp(const std::string& base32_secret, const std::string& code, TimePoint t);
std::string new_totp_secret(Rng& rng);  // base32, 20 random bytes

}  // namespace tp
