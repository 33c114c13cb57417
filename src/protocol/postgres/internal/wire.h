// Byte-level reading and writing of PostgreSQL protocol fields. Internal to protocol/postgres.
//
// Layouts follow the PostgreSQL documentation, "Frontend/Backend Protocol" → "Message Data Types":
// integers are big-endian (network order); String is a NUL-terminated C string; Byte{n} is raw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tp::pg::internal {

inline uint32_t load_be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

// A cursor over one message payload. Every read either succeeds completely or leaves the cursor
// unchanged and returns false, so parsers can name the field that was truncated.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool read_u8(uint8_t& out);
  bool read_i16(int16_t& out);
  bool read_u16(uint16_t& out);
  bool read_i32(int32_t& out);
  bool read_u32(uint32_t& out);
  // A String: the bytes up to the next NUL, which is consumed but not returned.
  bool read_cstring(std::string_view& out);
  bool read_bytes(size_t n, std::string_view& out);

  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  std::string_view rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Builds one message: the type byte (absent for startup packets), an Int32 length that counts itself
// but not the type byte, then the payload. finish() patches the length.
class MessageWriter {
 public:
  // type == 0 writes a startup-phase packet, which has no type byte.
  explicit MessageWriter(char type);

  MessageWriter& u8(uint8_t v);
  MessageWriter& i16(int16_t v);
  MessageWriter& i32(int32_t v);
  MessageWriter& u32(uint32_t v);
  MessageWriter& cstring(std::string_view s);  // s must not contain NUL
  MessageWriter& bytes(std::string_view b);

  // Call once: moves the message out.
  std::string finish();

 private:
  std::string out_;
  size_t length_at_ = 0;
};

// "malformed <message>: <what>": the error every parser returns for bad input.
Error malformed(std::string_view message, std::string_view what);
// Fails when a parser did not consume the whole payload (PostgreSQL's pq_getmsgend check).
Status expect_end(const WireReader& r, std::string_view message);
// A byte for an error message: 'Q' or 0x00.
std::string describe_type_byte(char type);

}  // namespace tp::pg::internal
