// Hand-built protocol bytes for tests: big-endian integers, C strings, and message envelopes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tp::pg::test {

inline std::string be16(uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

inline std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}

// A String field: the text and its NUL.
inline std::string cstr(std::string_view s) {
  return std::string(s) + '\0';
}

// A regular message: type byte, Int32 length (payload + 4), payload.
inline std::string msg(char type, std::string_view payload) {
  return std::string(1, type) + be32(static_cast<uint32_t>(payload.size() + 4)) + std::string(payload);
}

// A startup-phase packet: Int32 length (body + 4), body.
inline std::string startup_packet(std::string_view body) {
  return be32(static_cast<uint32_t>(body.size() + 4)) + std::string(body);
}

// Whether `parse` accepts `payload`; for negative cases, where no decoded view outlives the call.
template <class Parser>
bool accepts(Parser parse, const std::string& payload) {
  return parse(payload).ok();
}

}  // namespace tp::pg::test
