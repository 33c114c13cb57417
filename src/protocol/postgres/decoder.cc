#include "protocol/postgres/decoder.h"

#include <algorithm>
#include <array>
#include <variant>

#include "protocol/postgres/internal/wire.h"

namespace tp::pg {

namespace {

// What a handler may touch: the callbacks, and the one piece of state linking the two directions.
struct HandlerContext {
  DecoderCallbacks& callbacks;
  std::optional<AuthRequest>& awaited_auth_response;
};

using Handler = Status (*)(std::string_view payload, HandlerContext& ctx);

struct MessageHandler {
  const char* name = nullptr;  // nullptr: not a protocol 3.0 message type in this direction
  Handler decode = nullptr;    // nullptr: reported by on_skipped_message and streamed past unbuffered
};

using HandlerTable = std::array<MessageHandler, 256>;

class TableBuilder {
 public:
  TableBuilder& inspect(char type, const char* name, Handler decode) {
    table_[static_cast<unsigned char>(type)] = {name, decode};
    return *this;
  }
  TableBuilder& skip(char type, const char* name) { return inspect(type, name, nullptr); }
  HandlerTable build() const { return table_; }

 private:
  HandlerTable table_{};
};

// 'p' is one type byte for four messages; the request it answers decides its layout ("Message Formats",
// PasswordMessage / SASLInitialResponse / SASLResponse / GSSResponse).
Status decode_auth_response(std::string_view payload, HandlerContext& ctx) {
  auto awaited = ctx.awaited_auth_response;
  ctx.awaited_auth_response.reset();
  switch (awaited.value_or(AuthRequest::kOk)) {
    case AuthRequest::kCleartextPassword:
    case AuthRequest::kMd5Password: {
      TP_TRY(auto m, parse_password_message(payload));
      ctx.callbacks.on_password_message(m.password);
      return {};
    }
    case AuthRequest::kSasl: {
      TP_TRY(auto m, parse_sasl_initial_response(payload));
      ctx.callbacks.on_sasl_initial_response(m);
      return {};
    }
    case AuthRequest::kSaslContinue:
      ctx.callbacks.on_sasl_response(payload);
      return {};
    default:
      ctx.callbacks.on_auth_response(payload);
      return {};
  }
}

Status decode_authentication(std::string_view payload, HandlerContext& ctx) {
  TP_TRY(auto a, parse_authentication(payload));
  switch (a.request) {
    case AuthRequest::kOk:
    case AuthRequest::kSaslFinal:
    case AuthRequest::kKerberosV5:
      ctx.awaited_auth_response.reset();  // no 'p' answers these
      break;
    default:
      ctx.awaited_auth_response = a.request;
  }
  ctx.callbacks.on_authentication(a);
  return {};
}

// Decodes with `parse` and passes the typed message to `callback`.
template <auto parse, auto callback>
Status deliver(std::string_view payload, HandlerContext& ctx) {
  TP_TRY(auto message, parse(payload));
  (ctx.callbacks.*callback)(message);
  return {};
}

Status decode_query(std::string_view payload, HandlerContext& ctx) {
  TP_TRY(auto m, parse_query(payload));
  ctx.callbacks.on_query(m.text);
  return {};
}

Status decode_sync(std::string_view payload, HandlerContext& ctx) {
  TP_CHECK(parse_empty_message(payload, "Sync"));
  ctx.callbacks.on_sync();
  return {};
}

Status decode_flush(std::string_view payload, HandlerContext& ctx) {
  TP_CHECK(parse_empty_message(payload, "Flush"));
  ctx.callbacks.on_flush();
  return {};
}

Status decode_terminate(std::string_view payload, HandlerContext& ctx) {
  TP_CHECK(parse_empty_message(payload, "Terminate"));
  ctx.callbacks.on_terminate();
  return {};
}

Status decode_parameter_status(std::string_view payload, HandlerContext& ctx) {
  TP_TRY(auto m, parse_parameter_status(payload));
  ctx.callbacks.on_parameter_status(m.name, m.value);
  return {};
}

Status decode_backend_key_data(std::string_view payload, HandlerContext& ctx) {
  TP_TRY(auto m, parse_backend_key_data(payload));
  ctx.callbacks.on_backend_key_data(m.process_id, m.secret_key);
  return {};
}

Status decode_ready_for_query(std::string_view payload, HandlerContext& ctx) {
  TP_TRY(auto m, parse_ready_for_query(payload));
  ctx.callbacks.on_ready_for_query(m.status);
  return {};
}

Status decode_command_complete(std::string_view payload, HandlerContext& ctx) {
  TP_TRY(auto m, parse_command_complete(payload));
  ctx.callbacks.on_command_complete(m.tag);
  return {};
}

using CB = DecoderCallbacks;

// Frontend messages of protocol 3.0 ("Message Formats", those marked "(F)").
const HandlerTable& frontend_handlers() {
  static const HandlerTable table = TableBuilder()
                                        .inspect('Q', "Query", decode_query)
                                        .inspect('P', "Parse", deliver<parse_parse, &CB::on_parse>)
                                        .inspect('B', "Bind", deliver<parse_bind, &CB::on_bind>)
                                        .inspect('E', "Execute", deliver<parse_execute, &CB::on_execute>)
                                        .inspect('D', "Describe", deliver<parse_describe, &CB::on_describe>)
                                        .inspect('C', "Close", deliver<parse_close, &CB::on_close>)
                                        .inspect('S', "Sync", decode_sync)
                                        .inspect('H', "Flush", decode_flush)
                                        .inspect('X', "Terminate", decode_terminate)
                                        .inspect('p', "PasswordMessage", decode_auth_response)
                                        .skip('d', "CopyData")
                                        .skip('c', "CopyDone")
                                        .skip('f', "CopyFail")
                                        .skip('F', "FunctionCall")
                                        .build();
  return table;
}

// Backend messages of protocol 3.0 ("Message Formats", those marked "(B)").
const HandlerTable& backend_handlers() {
  static const HandlerTable table =
      TableBuilder()
          .inspect('R', "Authentication", decode_authentication)
          .inspect('S', "ParameterStatus", decode_parameter_status)
          .inspect('K', "BackendKeyData", decode_backend_key_data)
          .inspect('Z', "ReadyForQuery", decode_ready_for_query)
          .inspect('E', "ErrorResponse", deliver<parse_error_response, &CB::on_error_response>)
          .inspect('N', "NoticeResponse", deliver<parse_error_response, &CB::on_notice_response>)
          .inspect('C', "CommandComplete", decode_command_complete)
          .skip('1', "ParseComplete")
          .skip('2', "BindComplete")
          .skip('3', "CloseComplete")
          .skip('A', "NotificationResponse")
          .skip('c', "CopyDone")
          .skip('d', "CopyData")
          .skip('D', "DataRow")
          .skip('G', "CopyInResponse")
          .skip('H', "CopyOutResponse")
          .skip('I', "EmptyQueryResponse")
          .skip('n', "NoData")
          .skip('s', "PortalSuspended")
          .skip('t', "ParameterDescription")
          .skip('T', "RowDescription")
          .skip('v', "NegotiateProtocolVersion")
          .skip('V', "FunctionCallResponse")
          .skip('W', "CopyBothResponse")
          .build();
  return table;
}

}  // namespace

Decoder::Decoder(DecoderCallbacks& callbacks, DecoderOptions options)
    : callbacks_(callbacks), options_(options), frontend_startup_(options.expect_startup) {}

DecodeOutcome Decoder::on_data(std::string_view buffer, Direction direction) {
  if (direction == Direction::kFrontend && frontend_startup_) return decode_startup(buffer, 0);
  if (direction == Direction::kBackend && awaited_encryption_answer_ != 0)
    return decode_encryption_response(buffer, 0);
  return decode_messages(buffer, 0, direction);
}

bool Decoder::take_stop() {
  bool stop = stop_requested_;
  stop_requested_ = false;
  return stop;
}

DecodeOutcome Decoder::fail(size_t consumed, Direction direction, const Error& error) const {
  return {consumed, DecodeStatus::kError,
          error.wrap(direction == Direction::kFrontend ? "decoding client messages"
                                                       : "decoding server messages")};
}

// "Message Flow" → "Start-up", "SSL Session Encryption", "GSSAPI Session Encryption".
DecodeOutcome Decoder::decode_startup(std::string_view buffer, size_t pos) {
  while (frontend_startup_) {
    auto rest = buffer.substr(pos);
    if (rest.empty()) return {pos, DecodeStatus::kOk};
    auto framed = frame_startup_packet(rest);
    if (!framed.ok()) return fail(pos, Direction::kFrontend, framed.error());
    if (*framed == 0) return {pos, DecodeStatus::kNeedMoreData};
    auto packet = parse_startup_packet(rest.substr(0, *framed));
    if (!packet.ok()) return fail(pos, Direction::kFrontend, packet.error());
    pos += *framed;
    if (std::holds_alternative<SslRequest>(*packet) || std::holds_alternative<GssEncRequest>(*packet)) {
      bool ssl = std::holds_alternative<SslRequest>(*packet);
      // The client must wait for the answer; bytes sent before it would be processed as if they had
      // arrived over the encrypted channel (CVE-2021-23214), so the server refuses them.
      if (pos != buffer.size()) {
        return fail(pos, Direction::kFrontend,
                    invalid_argument(std::string("received unencrypted data after ") +
                                     (ssl ? "SSLRequest" : "GSSENCRequest") + ": protocol violation"));
      }
      awaited_encryption_answer_ = ssl ? kSslAccepted : kGssEncAccepted;
      if (ssl) {
        callbacks_.on_ssl_request();
      } else {
        callbacks_.on_gssenc_request();
      }
    } else if (auto* cancel = std::get_if<CancelRequest>(&*packet)) {
      callbacks_.on_cancel_request(*cancel);
    } else {
      frontend_startup_ = false;
      callbacks_.on_startup_message(std::get<StartupMessage>(*packet));
    }
    if (take_stop()) return {pos, DecodeStatus::kStopped};
  }
  return decode_messages(buffer, pos, Direction::kFrontend);
}

DecodeOutcome Decoder::decode_encryption_response(std::string_view buffer, size_t pos) {
  if (pos == buffer.size()) return {pos, DecodeStatus::kOk};
  char answer = buffer[pos];
  char awaited = awaited_encryption_answer_;
  if (answer != awaited && answer != kEncryptionRefused) {
    return fail(
        pos, Direction::kBackend,
        invalid_argument("unexpected answer " + internal::describe_type_byte(answer) +
                         " to an encryption request (expected '" + std::string(1, awaited) + "' or 'N')"));
  }
  awaited_encryption_answer_ = 0;
  pos += 1;
  bool accepted = answer == awaited;
  // Bytes after 'S' would be read as if they came over TLS (CVE-2021-23222): the client refuses them.
  if (accepted && pos != buffer.size()) {
    return fail(pos, Direction::kBackend,
                invalid_argument("received unencrypted data after the encryption answer"));
  }
  callbacks_.on_encryption_response(accepted);
  if (take_stop()) return {pos, DecodeStatus::kStopped};
  return decode_messages(buffer, pos, Direction::kBackend);
}

DecodeOutcome Decoder::decode_messages(std::string_view buffer, size_t pos, Direction direction) {
  StreamState& stream = streams_[direction == Direction::kFrontend ? 0 : 1];
  const HandlerTable& table = direction == Direction::kFrontend ? frontend_handlers() : backend_handlers();
  HandlerContext ctx{callbacks_, awaited_auth_response_};
  while (true) {
    if (stream.skip_remaining > 0) {
      size_t n = std::min(stream.skip_remaining, buffer.size() - pos);
      pos += n;
      stream.skip_remaining -= n;
      if (stream.skip_remaining > 0) return {pos, DecodeStatus::kNeedMoreData};
    }
    auto rest = buffer.substr(pos);
    if (rest.empty()) return {pos, DecodeStatus::kOk};
    auto header = read_message_header(rest, options_.max_message_length);
    if (!header.ok()) return fail(pos, direction, header.error());
    if (!*header) return {pos, DecodeStatus::kNeedMoreData};
    const MessageHandler& handler = table[static_cast<unsigned char>((*header)->type)];
    if (handler.name == nullptr) {
      return fail(pos, direction,
                  invalid_argument(
                      "unknown message type " + internal::describe_type_byte((*header)->type) +
                      ": the peer is not speaking PostgreSQL protocol 3.0 or the stream is out of sync"));
    }
    if (handler.decode == nullptr) {
      callbacks_.on_skipped_message(direction, (*header)->type, (*header)->payload_size());
      pos += kMessageHeaderSize;
      stream.skip_remaining = (*header)->payload_size();
    } else {
      if (rest.size() < (*header)->total_size()) return {pos, DecodeStatus::kNeedMoreData};
      Status status = handler.decode(rest.substr(kMessageHeaderSize, (*header)->payload_size()), ctx);
      if (!status.ok()) return fail(pos, direction, status.error());
      pos += (*header)->total_size();
    }
    if (take_stop()) return {pos, DecodeStatus::kStopped};
  }
}

}  // namespace tp::pg
