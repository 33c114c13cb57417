#include "crypto/password.h"

#include <argon2.h>
#include <malloc.h>

#include <cstdint>

namespace tp {

namespace {

// OWASP Password Storage Cheat Sheet, Argon2id "m=19456 (19 MiB), t=2, p=1":
// about 50 ms here, cheap enough for logins and tests, costly for guessing.
constexpr uint32_t kTimeCost = 2;
constexpr uint32_t kMemoryKiB = 19456;
constexpr uint32_t kParallelism = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

constexpr size_t kMinPasswordChars = 8;
constexpr size_t kMaxPasswordChars = 1024;

// Counts UTF-8 code points (bytes that do not continue a sequence), so a
// password of 8 accented letters counts as 8, not 16.
size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace
}  // namespace tp

// gperftools' tcmalloc, which the teleport, tctl and tsh binaries run on (src/cli/CMakeLists.txt).
// Weak: null when the process runs on glibc's malloc, as the unit tests and sanitizer builds do.
extern "C" void MallocExtension_ReleaseToSystem(size_t num_bytes) __attribute__((weak));

namespace tp {
namespace {

// tcmalloc keeps a freed work area in its page heap, resident, for the next large allocation;
// this hands its pages back at once. Under glibc the fixed mmap threshold does the same
// (return_password_work_areas_to_the_system).
void release_work_area() {
  if (MallocExtension_ReleaseToSystem != nullptr) MallocExtension_ReleaseToSystem(size_t{kMemoryKiB} * 1024);
}

}  // namespace

Result<std::string> hash_password(const std::string& password, Rng& rng) {
  if (password.size() > ARGON2_MAX_PWD_LENGTH) return invalid_argument("password is too long to hash");
  std::vector<uint8_t> salt = rng.bytes(kSaltBytes);
  std::string encoded(argon2_encodedlen(kTimeCost, kMemoryKiB, kParallelism, kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  int rc = argon2id_hash_encoded(kTimeCost, kMemoryKiB, kParallelism, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  release_work_area();
  if (rc != ARGON2_OK) return internal_error(std::string("hashing password: ") + argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));  // argon2_encodedlen counts the terminator
  return encoded;
}

bool verify_password(const std::string& password, const std::string& encoded_hash) {
  // argon2id_verify decodes the parameters and salt from the string and
  // compares in constant time; any malformed hash simply fails.
  bool ok = argon2id_verify(encoded_hash.c_str(), password.data(), password.size()) == ARGON2_OK;
  release_work_area();
  return ok;
}

void return_password_work_areas_to_the_system() {
  static_assert(kMemoryKiB * 1024 > 16 << 20, "the work area must be above the threshold");
  // Rarer large buffers (HTTP bodies of several MiB, audit batches) stay on the heap. A fixed
  // threshold also stops glibc raising its trim threshold, so free space above 128 KiB at the top of
  // a heap goes back to the system too: under pgbench -S the proxy and the agent then fault in about
  // 0.1-0.15 pages per query where a 32 MiB trim threshold faults in 0.002, at the same CPU per query
  // (44.4 us either way) and 1.6 MiB less resident. Left at glibc's default.
  mallopt(M_MMAP_THRESHOLD, 16 << 20);
}

Status check_password_strength(const std::string& password) {
  size_t n = utf8_length(password);
  if (n < kMinPasswordChars) {
    return invalid_argument("password must be at least " + std::to_string(kMinPasswordChars) + " characters");
  }
  if (n > kMaxPasswordChars) {
    return invalid_argument("password must be at most " + std::to_string(kMaxPasswordChars) + " characters");
  }
  return {};
}

}  // namespace tp
