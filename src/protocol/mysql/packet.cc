#include "protocol/mysql/packet.h"

#include <algorithm>

#include "protocol/mysql/wire.h"

namespace tp::mysql {

Error packet_too_large(size_t size_at_least, size_t limit) {
  return limit_exceeded("MySQL packet of at least " + std::to_string(size_at_least) + " bytes exceeds the " +
                        std::to_string(limit) +
                        "-byte limit on one logical packet; raise the maximum packet size if such large "
                        "statements or rows are expected");
}

Result<FrameStep> PacketFramer::next(std::string_view input) {
  FrameStep step;
  while (input.size() - step.consumed >= kPacketHeaderSize) {
    const std::string_view at = input.substr(step.consumed);
    const size_t length = static_cast<uint8_t>(at[0]) |
                          (static_cast<size_t>(static_cast<uint8_t>(at[1])) << 8) |
                          (static_cast<size_t>(static_cast<uint8_t>(at[2])) << 16);
    const uint8_t sequence_id = static_cast<uint8_t>(at[3]);

    const size_t total = (assembling_ ? assembled_.size() : 0) + length;
    if (total > max_packet_size_) return packet_too_large(total, max_packet_size_);
    if (assembling_ && sequence_id != static_cast<uint8_t>(last_sequence_id_ + 1)) {
      return invalid_argument("MySQL packet continuation has sequence id " + std::to_string(sequence_id) +
                              ", expected " + std::to_string(static_cast<uint8_t>(last_sequence_id_ + 1)) +
                              "; the peer sent packets out of order");
    }
    if (at.size() < kPacketHeaderSize + length) break;  // need more bytes
    const std::string_view payload = at.substr(kPacketHeaderSize, length);
    step.consumed += kPacketHeaderSize + length;

    if (!assembling_ && length < kMaxPacketChunk) {
      // The common case: one physical packet, handed out without copying.
      step.packet = Packet{sequence_id, sequence_id, payload};
      return step;
    }
    if (!assembling_) {
      assembling_ = true;
      assembled_.clear();
      first_sequence_id_ = sequence_id;
    }
    assembled_.append(payload);
    last_sequence_id_ = sequence_id;
    if (length < kMaxPacketChunk) {
      assembling_ = false;
      step.packet = Packet{first_sequence_id_, last_sequence_id_, assembled_};
      return step;
    }
  }
  return step;
}

uint8_t append_packet(std::string& out, std::string_view payload, uint8_t sequence_id) {
  out.reserve(out.size() + payload.size() + kPacketHeaderSize * (payload.size() / kMaxPacketChunk + 1));
  // Loop at least once: an empty payload is one empty packet, and a payload that is an exact
  // multiple of 0xFFFFFF needs a trailing empty packet to say it ended.
  for (;;) {
    const size_t chunk = std::min(payload.size(), kMaxPacketChunk);
    put_int(out, chunk, 3);
    put_u8(out, sequence_id++);
    out.append(payload.substr(0, chunk));
    payload.remove_prefix(chunk);
    if (chunk < kMaxPacketChunk) break;
  }
  return sequence_id;
}

std::string encode_packet(std::string_view payload, uint8_t sequence_id) {
  std::string out;
  append_packet(out, payload, sequence_id);
  return out;
}

}  // namespace tp::mysql
