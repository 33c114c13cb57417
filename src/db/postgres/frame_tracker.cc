#include "db/postgres/frame_tracker.h"

#include <algorithm>

namespace tp::db {

void FrameTracker::feed(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size() && !corrupt_) {
    if (payload_left_ > 0) {
      size_t n = std::min(payload_left_, bytes.size() - pos);
      payload_left_ -= n;
      pos += n;
      continue;
    }
    header_[header_have_++] = static_cast<uint8_t>(bytes[pos++]);
    if (header_have_ < 5) continue;
    uint32_t length = (uint32_t{header_[1]} << 24) | (uint32_t{header_[2]} << 16) |
                      (uint32_t{header_[3]} << 8) | uint32_t{header_[4]};
    header_have_ = 0;
    if (length < 4) {
      corrupt_ = true;
      break;
    }
    payload_left_ = length - 4;
  }
}

size_t FrameTracker::bytes_to_boundary() const {
  if (payload_left_ > 0) return payload_left_;
  if (header_have_ > 0) return 5 - header_have_;
  return 0;
}

}  // namespace tp::db
