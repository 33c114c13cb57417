// Basic data types of the MySQL protocol (dev.mysql.com "Basic Data Types": Protocol::FixedLengthInteger,
// Protocol::LengthEncodedInteger, Protocol::LengthEncodedString, Protocol::NulTerminatedString,
// Protocol::RestOfPacketString). Every read is bounds-checked and returns an error naming the
// message and field instead of reading past the end of the payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tp::mysql {

// Reads one payload front to back. `message` names the packet in error messages
// ("MySQL OK_Packet: truncated reading status flags ...").
class PayloadReader {
 public:
  PayloadReader(std::string_view payload, const char* message) : data_(payload), message_(message) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }

  Result<uint8_t> u8(const char* field) { return narrow<uint8_t>(fixed(1, field)); }
  Result<uint16_t> u16(const char* field) { return narrow<uint16_t>(fixed(2, field)); }
  Result<uint32_t> u24(const char* field) { return narrow<uint32_t>(fixed(3, field)); }
  Result<uint32_t> u32(const char* field) { return narrow<uint32_t>(fixed(4, field)); }
  Result<uint64_t> u64(const char* field) { return fixed(8, field); }
  // int<n>, little-endian, 1 <= n <= 8.
  Result<uint64_t> fixed(size_t n, const char* field);

  // int<lenenc>. 0xFB (NULL) and 0xFF (undefined) are errors here; rows use lenenc_int_or_null.
  Result<uint64_t> lenenc_int(const char* field);
  // int<lenenc> where 0xFB means SQL NULL (text result set rows): nullopt for NULL.
  Result<std::optional<uint64_t>> lenenc_int_or_null(const char* field);

  // The returned views point into the payload given to the constructor.
  Result<std::string_view> lenenc_string(const char* field);
  Result<std::string_view> nul_string(const char* field);  // without the NUL
  Result<std::string_view> bytes(size_t n, const char* field);
  std::string_view rest();  // string<EOF>: everything left
  Result<uint8_t> peek(const char* field) const;
  // The bytes read since offset `start`.
  std::string_view consumed_since(size_t start) const { return data_.substr(start, pos_ - start); }

  // Errors in the reader's style, for checks the caller makes itself.
  Error malformed(const char* field, std::string_view why) const;

 private:
  Error truncated(const char* field, size_t need) const;
  template <class T>
  static Result<T> narrow(Result<uint64_t> r) {
    if (!r.ok()) return r.error();
    return static_cast<T>(*r);
  }

  std::string_view data_;
  size_t pos_ = 0;
  const char* message_;
};

// Writers append to `out`.
void put_int(std::string& out, uint64_t value, size_t bytes);  // int<bytes>, little-endian
inline void put_u8(std::string& out, uint8_t value) {
  out.push_back(static_cast<char>(value));
}
inline void put_u16(std::string& out, uint16_t value) {
  put_int(out, value, 2);
}
inline void put_u32(std::string& out, uint32_t value) {
  put_int(out, value, 4);
}
void put_lenenc_int(std::string& out, uint64_t value);
void put_lenenc_string(std::string& out, std::string_view value);
// string<NUL>. A value containing a NUL cannot be encoded (it would end the field early and shift
// everything after it, e.g. turn user "admin\0x" into "admin"), so that is an error.
Status put_nul_string(std::string& out, std::string_view value, const char* field);
// Connection attributes (HandshakeResponse41, COM_CHANGE_USER): int<lenenc> total length, then
// string<lenenc> key / string<lenenc> value pairs. Kept in wire order.
using ConnectAttributes = std::vector<std::pair<std::string, std::string>>;
Result<ConnectAttributes> read_connect_attributes(PayloadReader& r);
void put_connect_attributes(std::string& out, const ConnectAttributes& attributes);

// Size of the int<lenenc> encoding of `value`: 1, 3, 4 or 9.
size_t lenenc_int_size(uint64_t value);

}  // namespace tp::mysql
