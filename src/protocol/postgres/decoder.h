// A streaming PostgreSQL protocol decoder for a proxy: feed it the bytes of either direction, it
// reports what it saw through DecoderCallbacks and says how many bytes it is done with. It holds no
// policy: the engine implementing the callbacks decides (audit, refuse, count). Modelled on Envoy's
// postgres_proxy decoder (contrib/postgres_proxy/filters/network/source/postgres_decoder.h).
//
// Only messages worth inspecting are buffered until complete (queries, extended-protocol messages,
// authentication, status, errors). Every other message - DataRow, CopyData, RowDescription, ... - is
// reported at its 5-byte header and its payload is consumed as it streams past, so a large result set
// is never copied or held whole. Message layouts: PostgreSQL documentation "Message Formats";
// phases: "Message Flow".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "protocol/postgres/backend_messages.h"
#include "protocol/postgres/framer.h"
#include "protocol/postgres/frontend_messages.h"
#include "protocol/postgres/startup.h"

namespace tp::pg {

enum class Direction {
  kFrontend,  // bytes the client sent
  kBackend,   // bytes the server sent
};

// Views passed to callbacks point into the buffer given to on_data and are valid only during the call.
// Every method has an empty default so an engine overrides only what it needs.
class DecoderCallbacks {
 public:
  virtual ~DecoderCallbacks() = default;

  // Startup phase, frontend (only with DecoderOptions::expect_startup).
  virtual void on_ssl_request() {}
  virtual void on_gssenc_request() {}
  virtual void on_cancel_request(const CancelRequest& /*request*/) {}
  virtual void on_startup_message(const StartupMessage& /*message*/) {}
  // The backend's one-byte answer to SSLRequest / GSSENCRequest. After `true` the caller switches the
  // connection to TLS (or GSSAPI) and feeds the decrypted bytes.
  virtual void on_encryption_response(bool /*accepted*/) {}

  // Frontend messages.
  virtual void on_query(std::string_view /*text*/) {}
  virtual void on_parse(const Parse& /*parse*/) {}
  virtual void on_bind(const Bind& /*bind*/) {}
  virtual void on_execute(const Execute& /*execute*/) {}
  virtual void on_describe(const Describe& /*describe*/) {}
  virtual void on_close(const Close& /*close*/) {}
  virtual void on_sync() {}
  virtual void on_flush() {}
  virtual void on_terminate() {}
  // 'p' answering AuthenticationCleartextPassword or AuthenticationMD5Password.
  virtual void on_password_message(std::string_view /*password*/) {}
  // 'p' answering AuthenticationSASL / AuthenticationSASLContinue.
  virtual void on_sasl_initial_response(const SaslInitialResponse& /*response*/) {}
  virtual void on_sasl_response(std::string_view /*data*/) {}
  // 'p' when this decoder did not see which request it answers (only the frontend stream is decoded)
  // or it answers GSSAPI/SSPI: the raw payload.
  virtual void on_auth_response(std::string_view /*payload*/) {}

  // Backend messages.
  virtual void on_authentication(const Authentication& /*auth*/) {}
  virtual void on_parameter_status(std::string_view /*name*/, std::string_view /*value*/) {}
  virtual void on_backend_key_data(int32_t /*process_id*/, int32_t /*secret_key*/) {}
  virtual void on_ready_for_query(TransactionStatus /*status*/) {}
  virtual void on_error_response(const ErrorResponse& /*fields*/) {}
  virtual void on_notice_response(const NoticeResponse& /*fields*/) {}
  virtual void on_command_complete(std::string_view /*tag*/) {}

  // Any other protocol 3.0 message, either direction, reported once at its header.
  virtual void on_skipped_message(Direction /*direction*/, char /*type*/, size_t /*payload_size*/) {}
};

enum class DecodeStatus {
  kOk,            // every byte of the buffer was consumed
  kNeedMoreData,  // the bytes after `consumed` start an incomplete message: append more and call again
  kStopped,       // a callback called Decoder::stop(); `consumed` ends right after that message's header
                  // (skipped messages) or the whole message (inspected ones)
  kError,         // the bytes at `consumed` are not valid protocol: close the connection
};

struct DecodeOutcome {
  size_t consumed = 0;
  DecodeStatus status = DecodeStatus::kOk;
  Error error;  // status == kError
};

struct DecoderOptions {
  // The frontend stream starts with startup packets (SSLRequest, StartupMessage, ...) rather than
  // typed messages: set when decoding a connection from its first byte.
  bool expect_startup = false;
  // Cap on any message's length word; larger means a corrupt or hostile stream.
  uint32_t max_message_length = kDefaultMaxMessageLength;
};

class Decoder {
 public:
  explicit Decoder(DecoderCallbacks& callbacks, DecoderOptions options = {});

  // Decodes as many messages as `buffer` holds. The caller forwards or drops buffer[0, consumed) and
  // passes the rest again, with more bytes appended, on the next call for that direction. The two
  // directions keep separate state, so calls for them may interleave.
  DecodeOutcome on_data(std::string_view buffer, Direction direction);

  // For use inside a callback: on_data returns kStopped after the current message.
  void stop() { stop_requested_ = true; }

  bool in_startup_phase() const { return frontend_startup_; }

 private:
  struct StreamState {
    size_t skip_remaining = 0;  // payload bytes of a skipped message still to stream past
  };

  DecodeOutcome decode_startup(std::string_view buffer, size_t pos);
  DecodeOutcome decode_encryption_response(std::string_view buffer, size_t pos);
  DecodeOutcome decode_messages(std::string_view buffer, size_t pos, Direction direction);
  DecodeOutcome fail(size_t consumed, Direction direction, const Error& error) const;
  bool take_stop();

  DecoderCallbacks& callbacks_;
  DecoderOptions options_;
  bool frontend_startup_;
  char awaited_encryption_answer_ = 0;  // 'S' after SSLRequest, 'G' after GSSENCRequest
  // The authentication request the next frontend 'p' answers, as seen on the backend stream.
  std::optional<AuthRequest> awaited_auth_response_;
  StreamState streams_[2];
  bool stop_requested_ = false;
};

}  // namespace tp::pg
