// Byte-building helpers for the MySQL codec tests: fixtures are written out by hand, byte by byte.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/mysql/packet.h"

namespace tp::mysql::testing {

inline std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// Little-endian helpers for readable fixtures.
inline std::string le16(uint16_t v) {
  return bytes({v & 0xFF, v >> 8});
}
inline std::string le32(uint32_t v) {
  return bytes({int(v & 0xFF), int((v >> 8) & 0xFF), int((v >> 16) & 0xFF), int(v >> 24)});
}
inline std::string nul(std::string_view s) {
  return std::string(s) + std::string(1, '\0');
}

// One physical packet with its 4-byte header.
inline std::string frame(std::string_view payload, uint8_t seq) {
  std::string out = bytes({int(payload.size() & 0xFF), int((payload.size() >> 8) & 0xFF),
                           int((payload.size() >> 16) & 0xFF), seq});
  out.append(payload);
  return out;
}

// Every strict prefix shorter than `mandatory` must fail to parse; longer strict prefixes (whose
// tail fields are optional) must at least not crash or read out of bounds.
template <class Parse>
void expect_prefixes_fail(const std::string& full, size_t mandatory, Parse parse) {
  for (size_t n = 0; n < full.size(); ++n) {
    // Copy into an exact-size heap buffer so a read past the end is caught by sanitizers.
    std::unique_ptr<char[]> buffer(new char[n]);
    std::memcpy(buffer.get(), full.data(), n);
    auto result = parse(std::string_view(buffer.get(), n));
    if (n < mandatory) {
      EXPECT_FALSE(result.ok()) << "prefix of " << n << " bytes parsed";
    }
  }
}

}  // namespace tp::mysql::testing
