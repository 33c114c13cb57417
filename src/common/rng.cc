#include "common/rng.h"

#include <openssl/rand.h>

#include <stdexcept>

#include "common/strings.h"

namespace tp {

std::vector<uint8_t> Rng::bytes(size_t n) {
  std::vector<uint8_t> out(n);
  fill(out.data(), n);
  return out;
}

std::string Rng::hex(size_t n) {
  auto b = bytes(n);
  return to_hex(b.data(), b.size());
}

uint32_t Rng::u32() {
  uint8_t b[4];
  fill(b, 4);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
}

void CryptoRng::fill(uint8_t* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

CryptoRng& crypto_rng() {
  static CryptoRng r;
  return r;
}

}  // namespace tp
