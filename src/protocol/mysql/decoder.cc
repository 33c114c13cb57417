#include "protocol/mysql/decoder.h"

#include <algorithm>
#include <cstring>

namespace tp::mysql {

Decoder::Decoder(DecoderCallbacks& callbacks, uint64_t capabilities, size_t max_packet_size)
    : callbacks_(callbacks),
      capabilities_(capabilities),
      max_packet_size_(max_packet_size),
      tracker_(capabilities) {}

Error Decoder::failed_error() const {
  return invalid_argument("MySQL decoder already failed on an earlier packet; close the connection");
}

Status Decoder::on_client_packet(const Packet& packet) {
  if (failed_) return failed_error();
  Status s = handle_client_packet(packet);
  if (!s.ok()) failed_ = true;
  return s;
}

Status Decoder::on_server_data(std::string_view bytes) {
  if (failed_) return failed_error();
  Status s = handle_server_data(bytes);
  if (!s.ok()) failed_ = true;
  return s;
}

Status Decoder::handle_client_packet(const Packet& packet) {
  // LOCAL INFILE data is decided by state, not sequence id: a long file wraps the id past 255 to 0.
  if (infile_active_) {
    if (packet.payload.empty()) infile_active_ = false;  // the empty packet ends the file
    return {};
  }
  if (packet.sequence_id != 0) {
    // An answer to AuthSwitchRequest / AuthMoreData during COM_CHANGE_USER.
    if (!pending_.empty() && pending_.back().type == CommandType::kChangeUser) return {};
    return invalid_argument("MySQL client sent a packet with sequence id " +
                            std::to_string(packet.sequence_id) +
                            " outside of a command exchange; the connection is out of sync");
  }

  TP_TRY(Command command, parse_command(packet.payload, capabilities_));
  const ResponseShape shape = response_shape(command.type);
  if (shape == ResponseShape::kUnsupported) {
    return invalid_argument(
        std::string("MySQL ") + command_name(command.type) +
        " is a replication/clone stream, which this relay does not follow; refuse it before "
        "forwarding");
  }

  callbacks_.on_command(command);
  switch (command.type) {
    case CommandType::kQuery:
      callbacks_.on_query(command.text);
      break;
    case CommandType::kInitDb:
      callbacks_.on_init_db(command.text);
      break;
    case CommandType::kChangeUser:
      callbacks_.on_change_user(*command.change_user);
      break;
    case CommandType::kStmtPrepare:
      callbacks_.on_stmt_prepare(command.text);
      break;
    case CommandType::kStmtExecute:
    case CommandType::kStmtBulkExecute:
      callbacks_.on_stmt_execute(command.statement_id);
      break;
    case CommandType::kStmtClose:
      callbacks_.on_stmt_close(command.statement_id);
      break;
    case CommandType::kStmtReset:
      callbacks_.on_stmt_reset(command.statement_id);
      break;
    case CommandType::kProcessKill:
      callbacks_.on_process_kill(command.connection_id);
      break;
    case CommandType::kQuit:
      callbacks_.on_quit();
      break;
    default:
      break;
  }

  if (shape == ResponseShape::kNone) return {};
  pending_.push_back(
      Pending{command.type, shape,
              command.type == CommandType::kStmtPrepare ? std::move(command.text) : std::string()});
  if (pending_.size() == 1) TP_CHECK(tracker_.begin(shape));
  return {};
}

Status Decoder::handle_server_data(std::string_view in) {
  while (!in.empty()) {
    if (header_have_ < kPacketHeaderSize) {
      const size_t n = std::min(kPacketHeaderSize - header_have_, in.size());
      std::memcpy(header_ + header_have_, in.data(), n);
      header_have_ += n;
      in.remove_prefix(n);
      if (header_have_ < kPacketHeaderSize) return {};
      TP_CHECK(begin_server_fragment());
      if (fragment_left_ == 0) TP_CHECK(end_server_fragment());
      continue;
    }
    if (!decided_) {
      first_byte_ = static_cast<uint8_t>(in[0]);
      decided_ = true;
      // With nothing outstanding the packet is buffered to report what the server said.
      buffering_ = pending_.empty() || tracker_.wants_payload(first_byte_, fragment_length_);
      if (buffering_ && logical_length_ > max_packet_size_) {
        return packet_too_large(logical_length_, max_packet_size_);
      }
    }
    const size_t n = std::min(fragment_left_, in.size());
    const std::string_view chunk = in.substr(0, n);
    in.remove_prefix(n);
    fragment_left_ -= n;
    if (buffering_) {
      if (n == fragment_length_ && !more_fragments_ && body_.empty()) {
        // The whole (unsplit) packet is in this chunk: parse it in place, no copy.
        header_have_ = 0;
        in_packet_ = false;
        TP_CHECK(deliver_server_packet(chunk));
        continue;
      }
      body_.append(chunk);
    }
    if (fragment_left_ == 0) TP_CHECK(end_server_fragment());
  }
  return {};
}

Status Decoder::begin_server_fragment() {
  const size_t length =
      header_[0] | (static_cast<size_t>(header_[1]) << 8) | (static_cast<size_t>(header_[2]) << 16);
  if (!in_packet_) {
    in_packet_ = true;
    decided_ = false;
    buffering_ = false;
    logical_length_ = 0;
    body_.clear();
  }
  fragment_length_ = length;
  fragment_left_ = length;
  more_fragments_ = length == kMaxPacketChunk;
  logical_length_ += length;
  if (buffering_ && logical_length_ > max_packet_size_)
    return packet_too_large(logical_length_, max_packet_size_);
  return {};
}

Status Decoder::end_server_fragment() {
  header_have_ = 0;
  if (more_fragments_) return {};  // the logical packet continues in the next physical packet
  in_packet_ = false;
  if (!decided_) return deliver_server_packet(std::string_view());  // an empty packet
  if (buffering_) return deliver_server_packet(body_);
  return deliver_server_packet(std::string_view(reinterpret_cast<const char*>(&first_byte_), 1));
}

Status Decoder::unsolicited_server_packet(std::string_view payload) {
  // mysqld may send an ERR just before it closes an idle or killed connection (e.g. 4031
  // ER_CLIENT_INTERACTION_TIMEOUT).
  if (is_err_packet(payload)) {
    auto err = parse_err_packet(payload, capabilities_);
    if (err.ok()) {
      return unavailable("MySQL server sent error " + std::to_string(err->error_code) + " (" +
                         err->sql_state + ") outside of a response: " + err->message +
                         "; it is closing the connection");
    }
  }
  return invalid_argument(
      "MySQL server sent a packet while no command was outstanding; the connection is out of sync");
}

Status Decoder::deliver_server_packet(std::string_view payload) {
  if (pending_.empty()) return unsolicited_server_packet(payload);
  TP_TRY(ResponseEvent event, tracker_.on_packet(payload, logical_length_));
  if (event.local_infile_filename) {
    infile_active_ = true;
    callbacks_.on_local_infile_request(*event.local_infile_filename);
  }
  if (!event.complete) return {};

  const Pending done = std::move(pending_.front());
  pending_.pop_front();
  const ResponseSummary& summary = *event.complete;
  if (done.type == CommandType::kStmtPrepare && summary.prepare_ok) {
    callbacks_.on_stmt_prepare_ok(*summary.prepare_ok, done.prepare_text);
  }
  callbacks_.on_response_complete(done.type, summary);
  if (!pending_.empty()) TP_CHECK(tracker_.begin(pending_.front().shape));
  return {};
}

}  // namespace tp::mysql
