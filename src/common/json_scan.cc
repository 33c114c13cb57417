#include "common/json_scan.h"

#include <cstdint>

#include "common/json_writer.h"

namespace tp {
namespace {

class Scanner {
 public:
  Scanner(std::string_view text, const std::function<void(const JsonMember&)>& on_member)
      : text_(text), p_(text.data()), end_(text.data() + text.size()), on_member_(on_member) {}

  bool document() {
    skip_space();
    if (!value(0, nullptr)) return false;
    skip_space();
    return p_ == end_;
  }

 private:
  // One value at `depth`; its kind and extent in `out` when asked for (top-level members only).
  bool value(int depth, JsonMember* out) {
    if (p_ == end_) return false;
    const char* start = p_;
    JsonMember::Kind kind;
    bool escaped = false;
    switch (*p_) {
      case '{':
        kind = JsonMember::kObject;
        if (!object(depth + 1)) return false;
        break;
      case '[':
        kind = JsonMember::kArray;
        if (!array(depth + 1)) return false;
        break;
      case '"':
        kind = JsonMember::kString;
        if (!string(escaped)) return false;
        break;
      case 't':
        kind = JsonMember::kTrue;
        if (!literal("true")) return false;
        break;
      case 'f':
        kind = JsonMember::kFalse;
        if (!literal("false")) return false;
        break;
      case 'n':
        kind = JsonMember::kNull;
        if (!literal("null")) return false;
        break;
      default:
        kind = JsonMember::kNumber;
        if (!number()) return false;
    }
    if (out) {
      out->kind = kind;
      out->value_escaped = escaped;
      out->value = kind == JsonMember::kString ? std::string_view(start + 1, p_ - start - 2)
                                               : std::string_view(start, p_ - start);
    }
    return true;
  }

  bool object(int depth) { return container(depth, '}'); }
  bool array(int depth) { return container(depth, ']'); }

  // The members of an object or the elements of an array, from the opening bracket to just past
  // `close`.
  bool container(int depth, char close) {
    if (depth > kMaxJsonDepth) return false;
    const bool is_object = close == '}';
    ++p_;
    skip_space();
    if (p_ != end_ && *p_ == close) {
      ++p_;
      return true;
    }
    while (true) {
      std::string_view key;
      bool key_escaped = false;
      if (is_object) {
        if (p_ == end_ || *p_ != '"') return false;
        const char* key_start = p_;
        if (!string(key_escaped)) return false;
        key = std::string_view(key_start + 1, p_ - key_start - 2);
        skip_space();
        if (p_ == end_ || *p_ != ':') return false;
        ++p_;
        skip_space();
      }
      const bool report = is_object && depth == 1 && on_member_;
      JsonMember member{};
      if (!value(depth, report ? &member : nullptr)) return false;
      if (report) {
        member.key = key;
        member.key_escaped = key_escaped;
        on_member_(member);
      }
      skip_space();
      if (p_ == end_) return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      skip_space();
    }
  }

  // A string, from its opening quote to just past its closing one.
  bool string(bool& escaped) {
    ++p_;  // '"'
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        escaped = true;
        if (!escape()) return false;
      } else if (c < 0x80) {
        ++p_;
      } else if (!utf8()) {
        return false;
      }
    }
    return false;
  }

  bool escape() {
    ++p_;  // '\\'
    if (p_ == end_) return false;
    switch (*p_++) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return true;
      case 'u': {
        uint32_t unit = 0;
        if (!hex4(unit)) return false;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a low surrogate alone
        if (unit < 0xD800 || unit > 0xDBFF) return true;
        // A high surrogate: a low one must follow.
        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
        p_ += 2;
        uint32_t low = 0;
        return hex4(low) && low >= 0xDC00 && low <= 0xDFFF;
      }
      default:
        return false;
    }
  }

  bool hex4(uint32_t& unit) {
    if (end_ - p_ < 4) return false;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      unit <<= 4;
      if (c >= '0' && c <= '9')
        unit |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        unit |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        unit |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }

  // One well-formed UTF-8 sequence of two to four bytes (common/json_writer.h).
  bool utf8() {
    const size_t n = utf8_sequence_length(text_, static_cast<size_t>(p_ - text_.data()));
    p_ += n;
    return n > 0;
  }

  bool number() {
    if (p_ != end_ && *p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      digits();
    } else {
      return false;
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    return true;
  }

  // At least one digit.
  bool digits() {
    const char* start = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return false;
    p_ += word.size();
    return true;
  }

  void skip_space() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  std::string_view text_;
  const char* p_;
  const char* end_;
  const std::function<void(const JsonMember&)>& on_member_;
};

}  // namespace

bool scan_json(std::string_view text, const std::function<void(const JsonMember&)>& on_member) {
  return Scanner(text, on_member).document();
}

}  // namespace tp
