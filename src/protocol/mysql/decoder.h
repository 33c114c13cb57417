// Envoy mysql_proxy-style decoder for the command phase: it watches the packets a relay forwards
// in both directions and reports what it saw through DecoderCallbacks (a query, a prepared
// statement, a response that completed). It holds no policy: the engine that owns the connection
// implements the callbacks, decides, and feeds the decoder only what it actually forwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/mysql/command.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/mysql/response_tracker.h"

namespace tp::mysql {

// Every method has an empty default so an engine overrides only what it needs.
class DecoderCallbacks {
 public:
  virtual ~DecoderCallbacks() = default;

  // Client -> server. on_command comes first for every command, then the specific callback.
  virtual void on_command(const Command& /*command*/) {}
  virtual void on_query(std::string_view /*text*/) {}
  virtual void on_init_db(std::string_view /*schema*/) {}
  virtual void on_change_user(const ChangeUser& /*request*/) {}
  virtual void on_stmt_prepare(std::string_view /*text*/) {}
  virtual void on_stmt_execute(uint32_t /*statement_id*/) {}
  virtual void on_stmt_close(uint32_t /*statement_id*/) {}
  virtual void on_stmt_reset(uint32_t /*statement_id*/) {}
  virtual void on_process_kill(uint32_t /*connection_id*/) {}
  virtual void on_quit() {}

  // Server -> client.
  // The server accepted COM_STMT_PREPARE: `text` is the statement that now has ok.statement_id.
  virtual void on_stmt_prepare_ok(const StmtPrepareOk& /*ok*/, std::string_view /*text*/) {}
  // LOAD DATA LOCAL: the server asked the client to send this file.
  virtual void on_local_infile_request(std::string_view /*filename*/) {}
  // The response to `command` is complete (summary.ok, or summary.error).
  virtual void on_response_complete(CommandType /*command*/, const ResponseSummary& /*summary*/) {}
};

class Decoder {
 public:
  // `capabilities`: the negotiated ones (client's & server's). `max_packet_size` caps the server
  // packets the decoder has to buffer (OK/ERR/column counts); rows are never buffered.
  Decoder(DecoderCallbacks& callbacks, uint64_t capabilities, size_t max_packet_size = kDefaultMaxPacketSize);

  // One complete logical client packet (cut by PacketFramer). A packet with sequence id 0 is a
  // new command (commands may be pipelined); other packets are LOCAL INFILE data or auth data
  // inside COM_CHANGE_USER and are not parsed.
  Status on_client_packet(const Packet& packet);

  // Any chunk of the server's byte stream, in order. Rows and column definitions are skipped
  // without copying; other packets are parsed in place when a chunk holds them whole, otherwise
  // buffered until complete.
  Status on_server_data(std::string_view bytes);

  // No command is waiting for (more of) its response: the server is idle.
  bool server_idle() const { return pending_.empty(); }
  size_t pending_responses() const { return pending_.size(); }

  // After any error the decoder stays failed: the connection is out of sync and must be closed.

 private:
  struct Pending {
    CommandType type;
    ResponseShape shape;
    std::string prepare_text;  // COM_STMT_PREPARE only
  };

  Status handle_client_packet(const Packet& packet);
  Status handle_server_data(std::string_view bytes);
  Status begin_server_fragment();
  Status end_server_fragment();
  Status deliver_server_packet(std::string_view payload);
  Status unsolicited_server_packet(std::string_view payload);
  Error failed_error() const;

  DecoderCallbacks& callbacks_;
  uint64_t capabilities_;
  size_t max_packet_size_;
  ResponseTracker tracker_;
  std::deque<Pending> pending_;  // front: the command whose response the tracker follows
  bool infile_active_ = false;   // the client is streaming a LOCAL INFILE file
  bool failed_ = false;

  // Server stream position (Protocol::Packet framing, tracked byte by byte).
  uint8_t header_[kPacketHeaderSize] = {};
  size_t header_have_ = 0;
  bool in_packet_ = false;       // between the first and the last fragment of a logical packet
  bool decided_ = false;         // first payload byte seen: buffering_ is known
  bool buffering_ = false;       // the tracker needs this packet's payload
  bool more_fragments_ = false;  // the current fragment is 0xFFFFFF bytes long
  size_t fragment_length_ = 0;
  size_t fragment_left_ = 0;
  size_t logical_length_ = 0;  // payload bytes announced so far for this logical packet
  uint8_t first_byte_ = 0;
  std::string body_;  // buffered payload of a packet that arrived in pieces
};

}  // namespace tp::mysql
