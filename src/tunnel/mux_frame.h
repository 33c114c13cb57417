// The frames of a multiplexed tunnel connection (tunnel/mux.h). Pure: bytes in, values out.
//
// Every frame is a 9-byte header and a payload:
//   u8  type      (FrameType)
//   u32 stream    big-endian; 0 for frames about the connection (kGoAway)
//   u32 length    big-endian; the payload's size
// Streams are opened by the proxy only (kOpen, ids 1, 2, ...) and answered by the agent (kAnswer).
// Data flows under per-stream credit, as in HTTP/2 and SSH channels: a sender may have at most
// `window` bytes of kData in flight on a stream, and the receiver returns credit with kWindow as
// its reader consumes them, so one slow reader stalls its own stream and no other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tp::tunnel {

enum class FrameType : uint8_t {
  kOpen = 1,    // proxy -> agent: open `stream`; payload: the dial line (DialRequest JSON)
  kAnswer = 2,  // agent -> proxy: payload: one byte, 1 accepted / 0 refused, then the answer line
  kData = 3,    // payload: stream bytes
  kWindow = 4,  // payload: u32 big-endian, credit returned to the sender of kData
  kFin = 5,     // the sender sends no more on `stream`; its peer's reads end after what came before
  kReset = 6,   // `stream` is gone at the sender; its peer's writes fail, reads fail once drained
  kGoAway = 7,  // agent -> proxy, stream 0: open nothing more on this connection (it is draining)
  kWant = 8,    // proxy -> agent, stream 0: payload u32 big-endian, how many connections it wants
                // (one per event loop: a session runs on its connection's loop)
};

inline constexpr size_t kFrameHeaderSize = 9;
// The largest kData payload a sender makes: a write of more is split.
inline constexpr size_t kMaxDataPayload = 32 * 1024;
// The largest payload of any frame: a dial line (tunnel/dial_line.h kMaxDialLine) and its answer.
inline constexpr size_t kMaxFramePayload = (1 << 20) + 64;

struct FrameHeader {
  FrameType type = FrameType::kData;
  uint32_t stream = 0;
  uint32_t length = 0;
};

// Appends a header to `out`.
void append_frame_header(std::string& out, FrameType type, uint32_t stream, uint32_t length);
// Appends a whole frame.
void append_frame(std::string& out, FrameType type, uint32_t stream, std::string_view payload);
// A kWindow frame returning `credit` (kWant has the same layout).
void append_window_frame(std::string& out, uint32_t stream, uint32_t credit,
                         FrameType type = FrameType::kWindow);

enum class HeaderCheck { kOk, kNeedMore, kBadType, kTooLong };
// Reads the header at the start of `bytes`. kNeedMore: fewer than 9 bytes; kBadType: not a known
// FrameType; kTooLong: length above kMaxFramePayload (or above kMaxDataPayload for kData).
HeaderCheck read_frame_header(std::string_view bytes, FrameHeader& header);

// The u32 of a kWindow or kWant payload; nullopt unless the payload is exactly 4 bytes.
std::optional<uint32_t> window_credit(std::string_view payload);

const char* frame_type_name(FrameType type);

}  // namespace tp::tunnel
