// The dial line and the answer that start a session's stream on a tunnel connection (the payloads
// of the open and answer frames, tunnel/mux_frame.h). Pure: bytes in, values out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tunnel/tunnel.h"

namespace tp::tunnel {

// A dial line carries a certificate and at most one PostgreSQL startup packet
// (10 000 bytes) or a MySQL handshake response, base64-encoded: 1 MiB is ample.
inline constexpr size_t kMaxDialLine = 1 << 20;
inline constexpr size_t kMaxAnswerLine = 4096;

// DialRequest::to_json() on one line, ending with '\n'.
std::string encode_dial_line(const DialRequest& request);
// `line` without its '\n'.
Result<DialRequest> decode_dial_line(std::string_view line);

// The agent's answer: ok, or the error that refused the dial.
std::string encode_dial_answer(const Status& status);
// `line` without its '\n'. A refusal comes back as the agent's error (code and
// message); an unreadable line as kUnavailable.
Status decode_dial_answer(std::string_view line);

// "not_found" -> kNotFound; unknown names -> kInternal.
ErrorCode error_code_from_name(std::string_view name);

}  // namespace tp::tunnel
