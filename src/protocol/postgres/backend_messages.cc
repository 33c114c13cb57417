#include "protocol/postgres/backend_messages.h"

#include "protocol/postgres/internal/wire.h"

namespace tp::pg {

using internal::expect_end;
using internal::malformed;
using internal::MessageWriter;
using internal::WireReader;

namespace {

constexpr const char* kAuth = "Authentication";

std::string encode_error_fields(char type, const ErrorReport& report) {
  MessageWriter w(type);
  // "Error and Notice Message Fields": S is localized, V (since 9.6) is not; we never localize.
  w.u8('S').cstring(report.severity);
  w.u8('V').cstring(report.severity);
  w.u8('C').cstring(report.sqlstate);
  w.u8('M').cstring(report.message);
  if (!report.detail.empty()) w.u8('D').cstring(report.detail);
  if (!report.hint.empty()) w.u8('H').cstring(report.hint);
  w.u8(0);
  return w.finish();
}

std::string encode_auth(AuthRequest request, std::string_view rest = {}) {
  return MessageWriter(backend_type::kAuthentication).i32(static_cast<int32_t>(request)).bytes(rest).finish();
}

}  // namespace

std::string_view ErrorResponse::field(char code) const {
  auto it = fields.find(code);
  return it == fields.end() ? std::string_view() : it->second;
}

Result<Authentication> parse_authentication(PayloadView payload) {
  WireReader r(payload);
  int32_t code = 0;
  if (!r.read_i32(code)) return malformed(kAuth, "request type is truncated");
  Authentication a;
  a.request = static_cast<AuthRequest>(code);
  switch (a.request) {
    case AuthRequest::kOk:
    case AuthRequest::kKerberosV5:
    case AuthRequest::kCleartextPassword:
    case AuthRequest::kGss:
    case AuthRequest::kSspi:
      break;
    case AuthRequest::kMd5Password: {
      std::string_view salt;
      if (!r.read_bytes(4, salt)) return malformed(kAuth, "MD5 salt is truncated");
      for (size_t i = 0; i < 4; ++i) a.md5_salt[i] = static_cast<uint8_t>(salt[i]);
      break;
    }
    case AuthRequest::kSasl:
      // A list of String mechanism names ended by an empty String.
      while (true) {
        std::string_view mechanism;
        if (!r.read_cstring(mechanism)) return malformed(kAuth, "SASL mechanism list is not terminated");
        if (mechanism.empty()) break;
        a.sasl_mechanisms.push_back(mechanism);
      }
      if (a.sasl_mechanisms.empty()) return malformed(kAuth, "AuthenticationSASL offers no mechanism");
      break;
    case AuthRequest::kGssContinue:
    case AuthRequest::kSaslContinue:
    case AuthRequest::kSaslFinal:
      r.read_bytes(r.remaining(), a.data);
      break;
    default:
      return invalid_argument("unsupported PostgreSQL authentication request type " + std::to_string(code) +
                              ": the server asks for a method this client does not implement");
  }
  TP_CHECK(expect_end(r, kAuth));
  return a;
}

Result<ParameterStatus> parse_parameter_status(PayloadView payload) {
  WireReader r(payload);
  ParameterStatus p;
  if (!r.read_cstring(p.name)) return malformed("ParameterStatus", "name is not NUL-terminated");
  if (!r.read_cstring(p.value)) return malformed("ParameterStatus", "value is not NUL-terminated");
  TP_CHECK(expect_end(r, "ParameterStatus"));
  return p;
}

Result<BackendKeyData> parse_backend_key_data(PayloadView payload) {
  WireReader r(payload);
  BackendKeyData k;
  if (!r.read_i32(k.process_id) || !r.read_i32(k.secret_key)) {
    return malformed("BackendKeyData",
                     "expected 8 bytes (process ID, secret key), got " + std::to_string(payload.size()));
  }
  if (!r.at_end()) {
    return invalid_argument("unsupported PostgreSQL BackendKeyData with a " +
                            std::to_string(payload.size() - 4) +
                            "-byte secret key: only protocol 3.0 (4-byte keys) is supported");
  }
  return k;
}

Result<ReadyForQuery> parse_ready_for_query(PayloadView payload) {
  WireReader r(payload);
  uint8_t status = 0;
  if (!r.read_u8(status)) return malformed("ReadyForQuery", "transaction status is missing");
  if (status != 'I' && status != 'T' && status != 'E') {
    return malformed("ReadyForQuery", "transaction status " +
                                          internal::describe_type_byte(static_cast<char>(status)) +
                                          " is not 'I', 'T' or 'E'");
  }
  TP_CHECK(expect_end(r, "ReadyForQuery"));
  return ReadyForQuery{static_cast<TransactionStatus>(status)};
}

Result<ErrorResponse> parse_error_response(PayloadView payload) {
  WireReader r(payload);
  ErrorResponse e;
  while (true) {
    uint8_t code = 0;
    if (!r.read_u8(code)) return malformed("ErrorResponse", "field list is missing its terminating NUL");
    if (code == 0) break;
    std::string_view value;
    if (!r.read_cstring(value)) {
      return malformed("ErrorResponse", "field " + internal::describe_type_byte(static_cast<char>(code)) +
                                            " is not NUL-terminated");
    }
    e.fields.insert_or_assign(static_cast<char>(code), value);
  }
  TP_CHECK(expect_end(r, "ErrorResponse"));
  return e;
}

Result<CommandComplete> parse_command_complete(PayloadView payload) {
  WireReader r(payload);
  CommandComplete c;
  if (!r.read_cstring(c.tag)) return malformed("CommandComplete", "command tag is not NUL-terminated");
  TP_CHECK(expect_end(r, "CommandComplete"));
  return c;
}

Result<RowDescription> parse_row_description(PayloadView payload) {
  WireReader r(payload);
  uint16_t n = 0;
  if (!r.read_u16(n)) return malformed("RowDescription", "field count is truncated");
  RowDescription d;
  d.fields.resize(n);
  for (auto& f : d.fields) {
    if (!r.read_cstring(f.name) || !r.read_u32(f.table_oid) || !r.read_i16(f.column_number) ||
        !r.read_u32(f.type_oid) || !r.read_i16(f.type_size) || !r.read_i32(f.type_modifier) ||
        !r.read_i16(f.format)) {
      return malformed("RowDescription", "field descriptions are truncated");
    }
  }
  TP_CHECK(expect_end(r, "RowDescription"));
  return d;
}

Result<DataRow> parse_data_row(PayloadView payload) {
  WireReader r(payload);
  uint16_t n = 0;
  if (!r.read_u16(n)) return malformed("DataRow", "column count is truncated");
  DataRow row;
  row.values.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    int32_t len = 0;
    if (!r.read_i32(len))
      return malformed("DataRow", "length of column " + std::to_string(i + 1) + " is truncated");
    if (len == -1) {
      row.values.emplace_back(std::nullopt);
      continue;
    }
    std::string_view value;
    if (len < 0 || !r.read_bytes(static_cast<size_t>(len), value)) {
      return malformed("DataRow", "column " + std::to_string(i + 1) + " claims " + std::to_string(len) +
                                      " bytes but " + std::to_string(r.remaining()) + " remain");
    }
    row.values.emplace_back(value);
  }
  TP_CHECK(expect_end(r, "DataRow"));
  return row;
}

Result<NotificationResponse> parse_notification_response(PayloadView payload) {
  WireReader r(payload);
  NotificationResponse n;
  if (!r.read_i32(n.process_id) || !r.read_cstring(n.channel) || !r.read_cstring(n.payload)) {
    return malformed("NotificationResponse", "truncated");
  }
  TP_CHECK(expect_end(r, "NotificationResponse"));
  return n;
}

Result<NegotiateProtocolVersion> parse_negotiate_protocol_version(PayloadView payload) {
  WireReader r(payload);
  NegotiateProtocolVersion v;
  int32_t count = 0;
  if (!r.read_i32(v.newest_minor) || !r.read_i32(count) || count < 0) {
    return malformed("NegotiateProtocolVersion", "header is truncated or has a negative option count");
  }
  for (int32_t i = 0; i < count; ++i) {
    std::string_view option;
    if (!r.read_cstring(option)) return malformed("NegotiateProtocolVersion", "option names are truncated");
    v.unrecognized_options.push_back(option);
  }
  TP_CHECK(expect_end(r, "NegotiateProtocolVersion"));
  return v;
}

std::string encode_authentication_ok() {
  return encode_auth(AuthRequest::kOk);
}

std::string encode_authentication_cleartext_password() {
  return encode_auth(AuthRequest::kCleartextPassword);
}

std::string encode_authentication_md5_password(const std::array<uint8_t, 4>& salt) {
  return encode_auth(AuthRequest::kMd5Password,
                     std::string_view(reinterpret_cast<const char*>(salt.data()), 4));
}

std::string encode_authentication_sasl(const std::vector<std::string>& mechanisms) {
  MessageWriter w(backend_type::kAuthentication);
  w.i32(static_cast<int32_t>(AuthRequest::kSasl));
  for (const auto& m : mechanisms) w.cstring(m);
  w.u8(0);
  return w.finish();
}

std::string encode_authentication_sasl_continue(std::string_view data) {
  return encode_auth(AuthRequest::kSaslContinue, data);
}

std::string encode_authentication_sasl_final(std::string_view data) {
  return encode_auth(AuthRequest::kSaslFinal, data);
}

std::string encode_parameter_status(std::string_view name, std::string_view value) {
  return MessageWriter(backend_type::kParameterStatus).cstring(name).cstring(value).finish();
}

std::string encode_backend_key_data(int32_t process_id, int32_t secret_key) {
  return MessageWriter(backend_type::kBackendKeyData).i32(process_id).i32(secret_key).finish();
}

std::string encode_ready_for_query(TransactionStatus status) {
  return MessageWriter(backend_type::kReadyForQuery).u8(static_cast<uint8_t>(status)).finish();
}

std::string encode_error_response(const ErrorReport& report) {
  return encode_error_fields(backend_type::kErrorResponse, report);
}

std::string encode_notice_response(const ErrorReport& report) {
  return encode_error_fields(backend_type::kNoticeResponse, report);
}

std::string encode_command_complete(std::string_view tag) {
  return MessageWriter(backend_type::kCommandComplete).cstring(tag).finish();
}

std::string encode_negotiate_protocol_version(int32_t newest_minor,
                                              const std::vector<std::string>& unrecognized_options) {
  MessageWriter w(backend_type::kNegotiateProtocolVersion);
  w.i32(newest_minor).i32(static_cast<int32_t>(unrecognized_options.size()));
  for (const auto& o : unrecognized_options) w.cstring(o);
  return w.finish();
}

}  // namespace tp::pg
