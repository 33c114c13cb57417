#include "protocol/mysql/wire.h"

#include <cstring>

namespace tp::mysql {

Error PayloadReader::truncated(const char* field, size_t need) const {
  return invalid_argument(std::string("MySQL ") + message_ + ": truncated reading " + field + " at offset " +
                          std::to_string(pos_) + " (need " + std::to_string(need) + " bytes, " +
                          std::to_string(remaining()) + " left); the peer sent a malformed packet");
}

Error PayloadReader::malformed(const char* field, std::string_view why) const {
  return invalid_argument(std::string("MySQL ") + message_ + ": bad " + field + " at offset " +
                          std::to_string(pos_) + ": " + std::string(why) +
                          "; the peer sent a malformed packet");
}

Result<uint64_t> PayloadReader::fixed(size_t n, const char* field) {
  if (remaining() < n) return truncated(field, n);
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
  pos_ += n;
  return v;
}

Result<std::optional<uint64_t>> PayloadReader::lenenc_int_or_null(const char* field) {
  // Protocol::LengthEncodedInteger: < 0xFB is the value itself; 0xFC, 0xFD, 0xFE prefix a 2-, 3-
  // or 8-byte integer; 0xFB is NULL in row data; 0xFF is undefined (it starts an ERR_Packet).
  if (remaining() < 1) return truncated(field, 1);
  const uint8_t first = static_cast<uint8_t>(data_[pos_]);
  if (first < 0xFB) {
    ++pos_;
    return std::optional<uint64_t>(first);
  }
  if (first == 0xFB) {
    ++pos_;
    return std::optional<uint64_t>();
  }
  if (first == 0xFF) return malformed(field, "0xff is not a length-encoded integer");
  const size_t width = first == 0xFC ? 2 : first == 0xFD ? 3 : 8;
  if (remaining() < 1 + width) return truncated(field, 1 + width);
  ++pos_;
  auto v = fixed(width, field);
  if (!v.ok()) return v.error();
  return std::optional<uint64_t>(*v);
}

Result<uint64_t> PayloadReader::lenenc_int(const char* field) {
  const size_t start = pos_;
  auto v = lenenc_int_or_null(field);
  if (!v.ok()) return v.error();
  if (!v->has_value()) {
    pos_ = start;
    return malformed(field, "0xfb (NULL) where a length-encoded integer is required");
  }
  return **v;
}

Result<std::string_view> PayloadReader::bytes(size_t n, const char* field) {
  if (remaining() < n) return truncated(field, n);
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

Result<std::string_view> PayloadReader::lenenc_string(const char* field) {
  const size_t start = pos_;
  auto n = lenenc_int(field);
  if (!n.ok()) return n.error();
  if (*n > remaining()) {
    const size_t need = *n;
    pos_ = start;
    return truncated(field, need + lenenc_int_size(need));
  }
  return bytes(static_cast<size_t>(*n), field);
}

Result<std::string_view> PayloadReader::nul_string(const char* field) {
  const size_t end = data_.find('\0', pos_);
  if (end == std::string_view::npos) {
    return invalid_argument(
        std::string("MySQL ") + message_ + ": truncated reading " + field + " at offset " +
        std::to_string(pos_) +
        " (no NUL terminator before the end of the packet); the peer sent a malformed packet");
  }
  std::string_view v = data_.substr(pos_, end - pos_);
  pos_ = end + 1;
  return v;
}

std::string_view PayloadReader::rest() {
  std::string_view v = data_.substr(pos_);
  pos_ = data_.size();
  return v;
}

Result<uint8_t> PayloadReader::peek(const char* field) const {
  if (remaining() < 1) return truncated(field, 1);
  return static_cast<uint8_t>(data_[pos_]);
}

void put_int(std::string& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

size_t lenenc_int_size(uint64_t value) {
  if (value < 0xFB) return 1;
  if (value <= 0xFFFF) return 3;
  if (value <= 0xFFFFFF) return 4;
  return 9;
}

void put_lenenc_int(std::string& out, uint64_t value) {
  switch (lenenc_int_size(value)) {
    case 1:
      put_u8(out, static_cast<uint8_t>(value));
      break;
    case 3:
      put_u8(out, 0xFC);
      put_int(out, value, 2);
      break;
    case 4:
      put_u8(out, 0xFD);
      put_int(out, value, 3);
      break;
    default:
      put_u8(out, 0xFE);
      put_int(out, value, 8);
  }
}

void put_lenenc_string(std::string& out, std::string_view value) {
  put_lenenc_int(out, value.size());
  out.append(value);
}

Status put_nul_string(std::string& out, std::string_view value, const char* field) {
  if (value.find('\0') != std::string_view::npos) {
    return invalid_argument(std::string("MySQL: ") + field +
                            " contains a NUL byte and cannot be sent as a NUL-terminated string");
  }
  out.append(value);
  out.push_back('\0');
  return {};
}

Result<ConnectAttributes> read_connect_attributes(PayloadReader& r) {
  TP_TRY(uint64_t total, r.lenenc_int("connect attributes length"));
  if (total > r.remaining())
    return r.malformed("connect attributes length", "longer than the rest of the packet");
  TP_TRY(std::string_view block, r.bytes(static_cast<size_t>(total), "connect attributes"));
  PayloadReader attrs(block, "connect attributes");
  ConnectAttributes out;
  while (!attrs.at_end()) {
    TP_TRY(std::string_view key, attrs.lenenc_string("attribute name"));
    TP_TRY(std::string_view value, attrs.lenenc_string("attribute value"));
    out.emplace_back(key, value);
  }
  return out;
}

void put_connect_attributes(std::string& out, const ConnectAttributes& attributes) {
  std::string block;
  for (const auto& [key, value] : attributes) {
    put_lenenc_string(block, key);
    put_lenenc_string(block, value);
  }
  put_lenenc_string(out, block);
}

}  // namespace tp::mysql
