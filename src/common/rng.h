// Injected randomness (STYLE habit 4). The default draws from OpenSSL's CSPRNG.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tp {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual void fill(uint8_t* out, size_t n) = 0;

  std::vector<uint8_t> bytes(size_t n);
  // n random bytes as lowercase hex (2n characters).
  std::string hex(size_t n);
  uint32_t u32();
};

class CryptoRng final : public Rng {
 public:
  void fill(uint8_t* out, size_t n) override;
};

CryptoRng& crypto_rng();

// Deterministic, for tests only.
class SequenceRng final : public Rng {
 public:
  explicit SequenceRng(uint8_t start = 0) : next_(start) {}
  void fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = next_++;
  }

 private:
  uint8_t next_;
};

}  // namespace tp
