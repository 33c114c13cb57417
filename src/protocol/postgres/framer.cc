#include "protocol/postgres/framer.h"

#include <string>

#include "protocol/postgres/internal/wire.h"

namespace tp::pg {

Result<std::optional<MessageHeader>> read_message_header(std::string_view buffer, uint32_t max_length) {
  if (buffer.size() < kMessageHeaderSize) return std::optional<MessageHeader>();
  MessageHeader h{buffer[0], internal::load_be32(buffer.data() + 1)};
  if (h.length < 4) {
    return invalid_argument("PostgreSQL message " + internal::describe_type_byte(h.type) +
                            " has invalid length " + std::to_string(h.length) +
                            " (minimum 4): the stream is corrupt or out of sync");
  }
  if (h.length > max_length) {
    return invalid_argument("PostgreSQL message " + internal::describe_type_byte(h.type) + " of " +
                            std::to_string(h.length) + " bytes exceeds the limit of " +
                            std::to_string(max_length) +
                            " bytes: the stream is corrupt or hostile, or the limit is set too low");
  }
  return std::optional<MessageHeader>(h);
}

Result<std::optional<MessageFrame>> frame_message(std::string_view buffer, uint32_t max_length) {
  TP_TRY(auto header, read_message_header(buffer, max_length));
  if (!header || buffer.size() < header->total_size()) return std::optional<MessageFrame>();
  return std::optional<MessageFrame>(
      MessageFrame{header->type, buffer.substr(kMessageHeaderSize, header->payload_size())});
}

}  // namespace tp::pg
