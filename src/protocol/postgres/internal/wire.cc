#include "protocol/postgres/internal/wire.h"

#include <cstdio>

namespace tp::pg::internal {

bool WireReader::read_u8(uint8_t& out) {
  if (remaining() < 1) return false;
  out = static_cast<uint8_t>(data_[pos_]);
  pos_ += 1;
  return true;
}

bool WireReader::read_u16(uint16_t& out) {
  if (remaining() < 2) return false;
  auto b = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  out = static_cast<uint16_t>(b[0] << 8 | b[1]);
  pos_ += 2;
  return true;
}

bool WireReader::read_i16(int16_t& out) {
  uint16_t v = 0;
  if (!read_u16(v)) return false;
  out = static_cast<int16_t>(v);
  return true;
}

bool WireReader::read_u32(uint32_t& out) {
  if (remaining() < 4) return false;
  out = load_be32(data_.data() + pos_);
  pos_ += 4;
  return true;
}

bool WireReader::read_i32(int32_t& out) {
  uint32_t v = 0;
  if (!read_u32(v)) return false;
  out = static_cast<int32_t>(v);
  return true;
}

bool WireReader::read_cstring(std::string_view& out) {
  size_t nul = data_.find('\0', pos_);
  if (nul == std::string_view::npos) return false;
  out = data_.substr(pos_, nul - pos_);
  pos_ = nul + 1;
  return true;
}

bool WireReader::read_bytes(size_t n, std::string_view& out) {
  if (remaining() < n) return false;
  out = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

MessageWriter::MessageWriter(char type) {
  if (type != 0) out_.push_back(type);
  length_at_ = out_.size();
  out_.append(4, '\0');
}

MessageWriter& MessageWriter::u8(uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}

MessageWriter& MessageWriter::i16(int16_t v) {
  auto u = static_cast<uint16_t>(v);
  out_.push_back(static_cast<char>(u >> 8));
  out_.push_back(static_cast<char>(u & 0xff));
  return *this;
}

MessageWriter& MessageWriter::u32(uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>((v >> shift) & 0xff));
  return *this;
}

MessageWriter& MessageWriter::i32(int32_t v) {
  return u32(static_cast<uint32_t>(v));
}

MessageWriter& MessageWriter::cstring(std::string_view s) {
  // An embedded NUL would end the field early and shift every later field (a framing injection), so
  // the value is cut at the first NUL, exactly as a C-string reader on the other side would see it.
  // Encoders for identity-bearing values (StartupMessage) reject NUL before getting here.
  out_.append(s.substr(0, s.find('\0')));
  out_.push_back('\0');
  return *this;
}

MessageWriter& MessageWriter::bytes(std::string_view b) {
  out_.append(b);
  return *this;
}

std::string MessageWriter::finish() {
  auto len = static_cast<uint32_t>(out_.size() - length_at_);
  for (int i = 0; i < 4; ++i) out_[length_at_ + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xff);
  return std::move(out_);
}

Error malformed(std::string_view message, std::string_view what) {
  return invalid_argument("malformed PostgreSQL " + std::string(message) + " message: " + std::string(what));
}

Status expect_end(const WireReader& r, std::string_view message) {
  if (r.at_end()) return {};
  return malformed(message, std::to_string(r.remaining()) + " unexpected trailing byte(s)");
}

std::string describe_type_byte(char type) {
  char buf[16];
  auto u = static_cast<unsigned char>(type);
  if (u >= 0x20 && u < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c' (0x%02x)", type, u);
  } else {
    std::snprintf(buf, sizeof buf, "0x%02x", u);
  }
  return buf;
}

}  // namespace tp::pg::internal
