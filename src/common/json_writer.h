// One JSON object written field by field into a string, for what is built on a
// hot path (an audit event per query): no document, no allocation per key.
// String values are made valid UTF-8 (each byte that starts no valid sequence
// becomes U+FFFD) and escaped; keys are written as given.
#pragma once

#include <concepts>
#include <cstdint>
#include <iterator>
#include <ranges>
#include <string>
#include <string_view>

namespace tp {

// The length of the valid UTF-8 sequence at text[i], or 0 when there is none
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence_length(std::string_view text, size_t i);
// `text` with each byte that starts no valid UTF-8 sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view text);
// Appends `text` as a quoted JSON string (sanitized as above).
void append_json_string(std::string& out, std::string_view text);

// JSON texts as JSON Lines: each followed by a newline.
template <std::input_iterator It>
std::string json_lines(It begin, It end) {
  size_t n = 0;
  for (It it = begin; it != end; ++it) n += std::string_view(*it).size() + 1;
  std::string out;
  out.reserve(n);
  for (It it = begin; it != end; ++it) {
    out += std::string_view(*it);
    out += '\n';
  }
  return out;
}

class JsonObjectWriter {
 public:
  JsonObjectWriter() : out_("{") {}
  // With room for about `bytes` of text, for an object whose size is known roughly.
  explicit JsonObjectWriter(size_t bytes) : out_("{") { out_.reserve(bytes); }

  JsonObjectWriter& add(std::string_view key, std::string_view value);
  JsonObjectWriter& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonObjectWriter& add(std::string_view key, bool value);
  template <std::integral T>
  requires(!std::same_as<T, bool>) JsonObjectWriter& add(std::string_view key, T value) {
    start(key);
    out_ += std::to_string(value);
    return *this;
  }
  // An array of strings: any range of what converts to std::string_view.
  template <std::ranges::input_range R>
  requires std::convertible_to<std::ranges::range_reference_t<const R>, std::string_view> JsonObjectWriter&
  add(std::string_view key, const R& values) {
    start(key);
    out_ += '[';
    bool first = true;
    for (std::string_view v : values) {
      if (!first) out_ += ',';
      first = false;
      append_json_string(out_, v);
    }
    out_ += ']';
    return *this;
  }

  // Appends every field `other` holds, as it wrote them: fields many objects share are escaped once.
  JsonObjectWriter& add_fields_of(const JsonObjectWriter& other);
  // The length of the text so far (the closing brace not counted).
  size_t size() const { return out_.size(); }

  std::string finish() &&;

 private:
  void start(std::string_view key);

  std::string out_;
  bool empty_ = true;
};

}  // namespace tp
