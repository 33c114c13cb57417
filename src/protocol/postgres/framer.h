// Framing of regular (post-startup) PostgreSQL messages: Byte1 type, Int32 length counting itself
// but not the type byte, then length - 4 payload bytes. See the PostgreSQL documentation,
// "Frontend/Backend Protocol" → "Messaging Overview" and "Message Formats".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tp::pg {

// The payload a message decoder reads (frontend_messages.h, backend_messages.h). Decoded messages
// hold views into it, so it converts from string_view, C strings and std::string lvalues but not from
// a temporary std::string, which would leave the decoded message dangling: a compile error, not a bug.
class PayloadView {
 public:
  PayloadView(std::string_view bytes) : bytes_(bytes) {}    // NOLINT: implicit by design
  PayloadView(const char* bytes) : bytes_(bytes) {}         // NOLINT
  PayloadView(const std::string& bytes) : bytes_(bytes) {}  // NOLINT
  PayloadView(std::string&&) = delete;
  operator std::string_view() const { return bytes_; }  // NOLINT
  size_t size() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

// Type byte + length word.
inline constexpr size_t kMessageHeaderSize = 5;
// Sanity cap on a message's length word. PostgreSQL limits a single field to 1 GiB (MaxAllocSize),
// so a larger length means a corrupt or hostile stream. Configurable where a cap is taken.
inline constexpr uint32_t kDefaultMaxMessageLength = 1u << 30;

struct MessageHeader {
  char type = 0;
  uint32_t length = 0;  // the length word: payload size + 4

  size_t payload_size() const { return length - 4; }
  size_t total_size() const { return kMessageHeaderSize + payload_size(); }
};

// One complete message inside a caller's buffer; `payload` points into that buffer (no copy).
struct MessageFrame {
  char type = 0;
  std::string_view payload;

  size_t total_size() const { return kMessageHeaderSize + payload.size(); }
};

// The header at the front of `buffer`, nullopt when fewer than 5 bytes are available. Fails when the
// length word is below 4 or above `max_length`.
Result<std::optional<MessageHeader>> read_message_header(std::string_view buffer,
                                                         uint32_t max_length = kDefaultMaxMessageLength);

// The first complete message at the front of `buffer`, nullopt when more bytes are needed, or the
// error of read_message_header.
Result<std::optional<MessageFrame>> frame_message(std::string_view buffer,
                                                  uint32_t max_length = kDefaultMaxMessageLength);

}  // namespace tp::pg
