// Message boundaries in the server-to-client byte stream, without parsing or
// buffering messages (PostgreSQL "Messaging Overview": Byte1 type, Int32
// length counting itself). The relay copies result sets as raw chunks; this
// only counts, so the agent can end a session between two messages (an
// ErrorResponse appended mid-DataRow would corrupt the client's stream).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tp::db {

class FrameTracker {
 public:
  // Accounts for bytes that were passed on, in order.
  void feed(std::string_view bytes);
  bool at_boundary() const { return header_have_ == 0 && payload_left_ == 0; }
  // How many bytes can pass without crossing the next boundary: the rest of
  // the payload, or of the header (then the length is still unknown).
  size_t bytes_to_boundary() const;
  // A length word below 4: not a PostgreSQL stream.
  bool corrupt() const { return corrupt_; }

 private:
  uint8_t header_[5] = {};
  size_t header_have_ = 0;
  size_t payload_left_ = 0;
  bool corrupt_ = false;
};

}  // namespace tp::db
