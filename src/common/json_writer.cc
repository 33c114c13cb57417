#include "common/json_writer.h"

namespace tp {

size_t utf8_sequence_length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

namespace {

// Appends the UTF-8 sequence at text[i], or U+FFFD for its first byte when
// there is none; returns the index after what it consumed.
size_t append_utf8_or_replacement(std::string& out, std::string_view text, size_t i) {
  const size_t n = utf8_sequence_length(text, i);
  if (n == 0) {
    out += "\xEF\xBF\xBD";
    return i + 1;
  }
  out.append(text.data() + i, n);
  return i + n;
}

}  // namespace

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) i = append_utf8_or_replacement(out, text, i);
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < text.size()) {
    // Runs of plain ASCII go in one append: nearly every query is only that.
    size_t run = i;
    while (run < text.size()) {
      const auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      i = append_utf8_or_replacement(out, text, i);
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

void JsonObjectWriter::start(std::string_view key) {
  if (!empty_) out_ += ',';
  empty_ = false;
  append_json_string(out_, key);
  out_ += ':';
}

JsonObjectWriter& JsonObjectWriter::add(std::string_view key, std::string_view value) {
  start(key);
  append_json_string(out_, value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::add(std::string_view key, bool value) {
  start(key);
  out_ += value ? "true" : "false";
  return *this;
}

JsonObjectWriter& JsonObjectWriter::add_fields_of(const JsonObjectWriter& other) {
  if (other.empty_) return *this;
  if (!empty_) out_ += ',';
  empty_ = false;
  out_.append(other.out_, 1);  // after its opening brace
  return *this;
}

std::string JsonObjectWriter::finish() && {
  out_ += '}';
  return std::move(out_);
}

}  // namespace tp
