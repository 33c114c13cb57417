// Protocol::Packet framing (dev.mysql.com "MySQL Packets"): int<3> payload_length, int<1>
// sequence_id, payload. A payload of 0xFFFFFF bytes means the logical packet continues in the next
// physical packet (split at 16 MiB); a logical packet whose size is a multiple of 0xFFFFFF ends with
// an empty physical packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/mysql/constants.h"

namespace tp::mysql {

// One logical packet.
struct Packet {
  uint8_t sequence_id = 0;       // of the first physical packet
  uint8_t last_sequence_id = 0;  // of the last one: a reply is numbered last_sequence_id + 1
  // Points into the caller's input when the packet was not split (no copy), otherwise into the
  // framer's reassembly buffer. Valid until the caller drops the consumed input or calls next() again.
  std::string_view payload;
};

// What PacketFramer::next found at the front of the input.
struct FrameStep {
  // Bytes the caller must drop from the front of its input, after handling `packet`.
  size_t consumed = 0;
  std::optional<Packet> packet;  // set when a logical packet is complete
};

// Cuts a byte stream into logical packets. Use:
//   for (;;) { TP_TRY(auto step, framer.next(buf)); if (step.packet) handle(*step.packet);
//              buf.erase(0, step.consumed); if (!step.packet) break; }
// A split packet's fragments are copied into the framer one at a time as they complete, so the
// caller never needs to hold more than one physical packet.
class PacketFramer {
 public:
  explicit PacketFramer(size_t max_packet_size = kDefaultMaxPacketSize) : max_packet_size_(max_packet_size) {}

  // Errors: a logical packet larger than max_packet_size (kLimitExceeded), or a continuation packet
  // whose sequence id does not follow (kInvalidArgument). After an error the stream is unusable.
  Result<FrameStep> next(std::string_view input);

  // True between the fragments of a split packet.
  bool mid_packet() const { return assembling_; }
  size_t max_packet_size() const { return max_packet_size_; }

 private:
  size_t max_packet_size_;
  bool assembling_ = false;
  std::string assembled_;
  uint8_t first_sequence_id_ = 0;
  uint8_t last_sequence_id_ = 0;
};

// Appends `payload` as one logical packet, splitting it into 0xFFFFFF-byte physical packets with
// consecutive sequence ids starting at `sequence_id`. Returns the sequence id for the next packet.
uint8_t append_packet(std::string& out, std::string_view payload, uint8_t sequence_id);
std::string encode_packet(std::string_view payload, uint8_t sequence_id);

// The error for a logical packet over the cap, shared by the framer and the Decoder.
Error packet_too_large(size_t size_at_least, size_t limit);

}  // namespace tp::mysql
