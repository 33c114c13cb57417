// Follows the server's packets after one command until the response is complete, without parsing
// rows or column definitions: OK / ERR / LOCAL INFILE, or column count -> column definitions ->
// [EOF unless CLIENT_DEPRECATE_EOF] -> rows -> EOF or OK-with-0xFE terminator, looping while
// SERVER_MORE_RESULTS_EXISTS is set (dev.mysql.com "COM_QUERY Response", "Text Resultset",
// "Binary Protocol Resultset", "COM_STMT_PREPARE Response", "Multi-Resultset"; mariadb.com
// "Result Set Packets"). The engine uses it to know when the server is idle again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/mysql/command.h"
#include "protocol/mysql/response.h"

namespace tp::mysql {

// The kinds of response a command gets.
enum class ResponseShape {
  kNone,             // COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA: no reply at all
  kOkOrErr,          // COM_INIT_DB, COM_PING, COM_STMT_RESET, ...: OK or ERR (or EOF for COM_SET_OPTION)
  kTextResultSet,    // COM_QUERY: OK, ERR, LOCAL INFILE, or text result sets
  kBinaryResultSet,  // COM_STMT_EXECUTE: OK, ERR or binary result sets (possibly a cursor)
  kRows,             // COM_STMT_FETCH: binary rows then a terminator
  kStmtPrepare,      // COM_STMT_PREPARE: COM_STMT_PREPARE_OK + parameter and column definitions
  kColumnList,       // COM_FIELD_LIST: column definitions then a terminator
  kSinglePacket,     // COM_STATISTICS: one string packet
  kAuthExchange,     // COM_CHANGE_USER: auth switch / more data until OK or ERR
  kUnsupported,      // replication and clone streams, which never "complete"
};
ResponseShape response_shape(CommandType type);

// How a response ended.
struct ResponseSummary {
  bool ok = false;                          // false: ended with ERR_Packet
  std::optional<ErrPacket> error;           // when !ok
  std::optional<StmtPrepareOk> prepare_ok;  // COM_STMT_PREPARE success
  uint16_t status_flags = 0;                // of the last OK/EOF seen
  uint64_t affected_rows = 0;               // summed over the OK packets of all statements
  uint64_t rows = 0;                        // rows skipped, over all result sets
  uint32_t result_sets = 0;
};

// What one server packet meant.
struct ResponseEvent {
  std::optional<ResponseSummary> complete;           // the response ended with this packet
  std::optional<std::string> local_infile_filename;  // the server asked the client for this file
};

class ResponseTracker {
 public:
  // `capabilities`: the negotiated ones (client's & server's), which decide CLIENT_DEPRECATE_EOF,
  // CLIENT_OPTIONAL_RESULTSET_METADATA, MARIADB_CLIENT_CACHE_METADATA and the OK/ERR layouts.
  explicit ResponseTracker(uint64_t capabilities) : capabilities_(capabilities) {}

  // Starts following the response to a command. kNone leaves the tracker idle. Errors for
  // kUnsupported, or when a response is still in progress.
  Status begin(ResponseShape shape);
  bool idle() const { return state_ == State::kIdle; }

  // Whether on_packet needs the whole payload of a packet that starts with `first_byte` and whose
  // first physical packet is `first_fragment_length` long. False for rows and column definitions,
  // which may then be skipped without buffering.
  bool wants_payload(uint8_t first_byte, size_t first_fragment_length) const;

  // Feeds one logical server packet of `length` bytes. `payload` is the whole payload, or at least
  // its first byte when wants_payload() said false. Errors on packets that cannot occur here; the
  // connection is then out of sync and should be closed.
  Result<ResponseEvent> on_packet(std::string_view payload, size_t length);
  Result<ResponseEvent> on_packet(std::string_view payload) { return on_packet(payload, payload.size()); }

 private:
  enum class State {
    kIdle,
    kFirst,
    kDefinitions,
    kDefinitionsEof,
    kRows,
    kColumnList,
    kSimple,
    kSingle,
    kAuth
  };
  enum class Block { kResultColumns, kPrepareParams, kPrepareColumns };

  Result<ResponseEvent> on_first(std::string_view payload);
  Result<ResponseEvent> on_column_count(std::string_view payload);
  Result<ResponseEvent> on_definitions_eof(std::string_view payload);
  Result<ResponseEvent> on_rows_terminator(std::string_view payload);
  Result<ResponseEvent> on_error(std::string_view payload);
  Result<ResponseEvent> start_block(Block block, uint64_t count, bool metadata, bool eof);
  Result<ResponseEvent> end_block();
  ResponseEvent finish(std::optional<ErrPacket> error);
  Error unexpected(std::string_view payload, const char* expected) const;

  uint64_t capabilities_;
  State state_ = State::kIdle;
  ResponseShape shape_ = ResponseShape::kNone;
  Block block_ = Block::kResultColumns;
  uint64_t definitions_left_ = 0;
  bool block_has_eof_ = false;
  ResponseSummary summary_;
};

}  // namespace tp::mysql
