#include "tunnel/mux_frame.h"

namespace tp::tunnel {
namespace {

void append_u32(std::string& out, uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
  out.append(bytes, 4);
}

uint32_t read_u32(std::string_view bytes) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

}  // namespace

void append_frame_header(std::string& out, FrameType type, uint32_t stream, uint32_t length) {
  out.push_back(static_cast<char>(type));
  append_u32(out, stream);
  append_u32(out, length);
}

void append_frame(std::string& out, FrameType type, uint32_t stream, std::string_view payload) {
  append_frame_header(out, type, stream, static_cast<uint32_t>(payload.size()));
  out.append(payload);
}

void append_window_frame(std::string& out, uint32_t stream, uint32_t credit, FrameType type) {
  append_frame_header(out, type, stream, 4);
  append_u32(out, credit);
}

HeaderCheck read_frame_header(std::string_view bytes, FrameHeader& header) {
  if (bytes.size() < kFrameHeaderSize) return HeaderCheck::kNeedMore;
  const auto type = static_cast<uint8_t>(bytes[0]);
  if (type < static_cast<uint8_t>(FrameType::kOpen) || type > static_cast<uint8_t>(FrameType::kWant))
    return HeaderCheck::kBadType;
  header.type = static_cast<FrameType>(type);
  header.stream = read_u32(bytes.substr(1));
  header.length = read_u32(bytes.substr(5));
  const size_t limit = header.type == FrameType::kData ? kMaxDataPayload : kMaxFramePayload;
  if (header.length > limit) return HeaderCheck::kTooLong;
  return HeaderCheck::kOk;
}

std::optional<uint32_t> window_credit(std::string_view payload) {
  if (payload.size() != 4) return std::nullopt;
  return read_u32(payload);
}

const char* frame_type_name(FrameType type) {
  switch (type) {
    case FrameType::kOpen:
      return "open";
    case FrameType::kAnswer:
      return "answer";
    case FrameType::kData:
      return "data";
    case FrameType::kWindow:
      return "window";
    case FrameType::kFin:
      return "fin";
    case FrameType::kReset:
      return "reset";
    case FrameType::kGoAway:
      return "go-away";
    case FrameType::kWant:
      return "want";
  }
  return "unknown";
}

}  // namespace tp::tunnel
