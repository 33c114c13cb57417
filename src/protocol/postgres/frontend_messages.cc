#include "protocol/postgres/frontend_messages.h"

#include "protocol/postgres/internal/wire.h"

namespace tp::pg {

using internal::expect_end;
using internal::malformed;
using internal::MessageWriter;
using internal::WireReader;

namespace {

Status check_format_code(int16_t code, std::string_view message, std::string_view which) {
  if (code == 0 || code == 1) return {};
  return malformed(message, std::string(which) + " format code " + std::to_string(code) +
                                " is neither 0 (text) nor 1 (binary)");
}

Result<std::vector<int16_t>> read_format_codes(WireReader& r, std::string_view which) {
  uint16_t n = 0;
  if (!r.read_u16(n)) return malformed("Bind", std::string(which) + " format count is truncated");
  std::vector<int16_t> codes(n);
  for (auto& code : codes) {
    if (!r.read_i16(code)) return malformed("Bind", std::string(which) + " format codes are truncated");
    TP_CHECK(check_format_code(code, "Bind", which));
  }
  return codes;
}

Result<char> read_target(WireReader& r, std::string_view message) {
  uint8_t target = 0;
  if (!r.read_u8(target)) return malformed(message, "missing the 'S'/'P' target byte");
  if (target != kTargetStatement && target != kTargetPortal) {
    return malformed(message, "target " + internal::describe_type_byte(static_cast<char>(target)) +
                                  " is neither 'S' (statement) nor 'P' (portal)");
  }
  return static_cast<char>(target);
}

}  // namespace

int16_t Bind::param_format(size_t i) const {
  if (param_formats.empty()) return 0;
  if (param_formats.size() == 1) return param_formats[0];
  return i < param_formats.size() ? param_formats[i] : 0;
}

Result<Query> parse_query(PayloadView payload) {
  WireReader r(payload);
  Query q;
  if (!r.read_cstring(q.text)) return malformed("Query", "query string is not NUL-terminated");
  TP_CHECK(expect_end(r, "Query"));
  return q;
}

Result<Parse> parse_parse(PayloadView payload) {
  WireReader r(payload);
  Parse p;
  if (!r.read_cstring(p.statement)) return malformed("Parse", "statement name is not NUL-terminated");
  if (!r.read_cstring(p.query)) return malformed("Parse", "query string is not NUL-terminated");
  uint16_t n = 0;
  if (!r.read_u16(n)) return malformed("Parse", "parameter type count is truncated");
  p.param_type_oids.resize(n);
  for (auto& oid : p.param_type_oids) {
    if (!r.read_u32(oid)) return malformed("Parse", "parameter type OIDs are truncated");
  }
  TP_CHECK(expect_end(r, "Parse"));
  return p;
}

Result<Bind> parse_bind(PayloadView payload) {
  WireReader r(payload);
  Bind b;
  if (!r.read_cstring(b.portal)) return malformed("Bind", "portal name is not NUL-terminated");
  if (!r.read_cstring(b.statement)) return malformed("Bind", "statement name is not NUL-terminated");
  TP_TRY(b.param_formats, read_format_codes(r, "parameter"));
  uint16_t n = 0;
  if (!r.read_u16(n)) return malformed("Bind", "parameter count is truncated");
  if (b.param_formats.size() > 1 && b.param_formats.size() != n) {
    return malformed("Bind", std::to_string(b.param_formats.size()) + " parameter formats for " +
                                 std::to_string(n) + " parameters (must be 0, 1 or one per parameter)");
  }
  b.param_values.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    int32_t len = 0;
    if (!r.read_i32(len))
      return malformed("Bind", "length of parameter " + std::to_string(i + 1) + " is truncated");
    if (len == -1) {
      b.param_values.emplace_back(std::nullopt);
      continue;
    }
    std::string_view value;
    if (len < 0 || !r.read_bytes(static_cast<size_t>(len), value)) {
      return malformed("Bind", "parameter " + std::to_string(i + 1) + " claims " + std::to_string(len) +
                                   " bytes but " + std::to_string(r.remaining()) + " remain");
    }
    b.param_values.emplace_back(value);
  }
  TP_TRY(b.result_formats, read_format_codes(r, "result"));
  TP_CHECK(expect_end(r, "Bind"));
  return b;
}

Result<Execute> parse_execute(PayloadView payload) {
  WireReader r(payload);
  Execute e;
  if (!r.read_cstring(e.portal)) return malformed("Execute", "portal name is not NUL-terminated");
  if (!r.read_i32(e.max_rows)) return malformed("Execute", "row limit is truncated");
  TP_CHECK(expect_end(r, "Execute"));
  return e;
}

Result<Describe> parse_describe(PayloadView payload) {
  WireReader r(payload);
  Describe d;
  TP_TRY(d.target, read_target(r, "Describe"));
  if (!r.read_cstring(d.name)) return malformed("Describe", "name is not NUL-terminated");
  TP_CHECK(expect_end(r, "Describe"));
  return d;
}

Result<Close> parse_close(PayloadView payload) {
  WireReader r(payload);
  Close c;
  TP_TRY(c.target, read_target(r, "Close"));
  if (!r.read_cstring(c.name)) return malformed("Close", "name is not NUL-terminated");
  TP_CHECK(expect_end(r, "Close"));
  return c;
}

Result<PasswordMessage> parse_password_message(PayloadView payload) {
  WireReader r(payload);
  PasswordMessage p;
  if (!r.read_cstring(p.password)) return malformed("PasswordMessage", "password is not NUL-terminated");
  TP_CHECK(expect_end(r, "PasswordMessage"));
  return p;
}

Result<SaslInitialResponse> parse_sasl_initial_response(PayloadView payload) {
  WireReader r(payload);
  SaslInitialResponse s;
  if (!r.read_cstring(s.mechanism))
    return malformed("SASLInitialResponse", "mechanism name is not NUL-terminated");
  int32_t len = 0;
  if (!r.read_i32(len)) return malformed("SASLInitialResponse", "data length is truncated");
  if (len != -1) {
    std::string_view data;
    if (len < 0 || !r.read_bytes(static_cast<size_t>(len), data)) {
      return malformed("SASLInitialResponse", "data claims " + std::to_string(len) + " bytes but " +
                                                  std::to_string(r.remaining()) + " remain");
    }
    s.data = data;
  }
  TP_CHECK(expect_end(r, "SASLInitialResponse"));
  return s;
}

Result<SaslResponse> parse_sasl_response(PayloadView payload) {
  return SaslResponse{payload};
}

Status parse_empty_message(PayloadView payload, std::string_view message_name) {
  return expect_end(WireReader(payload), message_name);
}

std::string encode_query(std::string_view text) {
  return MessageWriter(frontend_type::kQuery).cstring(text).finish();
}

std::string encode_parse(std::string_view statement, std::string_view query,
                         const std::vector<uint32_t>& param_type_oids) {
  MessageWriter w(frontend_type::kParse);
  w.cstring(statement).cstring(query).i16(static_cast<int16_t>(param_type_oids.size()));
  for (uint32_t oid : param_type_oids) w.u32(oid);
  return w.finish();
}

std::string encode_bind(std::string_view portal, std::string_view statement,
                        const std::vector<std::optional<std::string>>& param_values) {
  MessageWriter w(frontend_type::kBind);
  w.cstring(portal).cstring(statement).i16(0);  // no format codes: all parameters are text
  w.i16(static_cast<int16_t>(param_values.size()));
  for (const auto& v : param_values) {
    if (!v) {
      w.i32(-1);
    } else {
      w.i32(static_cast<int32_t>(v->size())).bytes(*v);
    }
  }
  w.i16(0);  // all result columns as text
  return w.finish();
}

std::string encode_execute(std::string_view portal, int32_t max_rows) {
  return MessageWriter(frontend_type::kExecute).cstring(portal).i32(max_rows).finish();
}

std::string encode_describe(char target, std::string_view name) {
  return MessageWriter(frontend_type::kDescribe).u8(static_cast<uint8_t>(target)).cstring(name).finish();
}

std::string encode_sync() {
  return MessageWriter(frontend_type::kSync).finish();
}

std::string encode_terminate() {
  return MessageWriter(frontend_type::kTerminate).finish();
}

std::string encode_password_message(std::string_view password) {
  return MessageWriter(frontend_type::kAuthResponse).cstring(password).finish();
}

std::string encode_sasl_initial_response(std::string_view mechanism, std::optional<std::string_view> data) {
  MessageWriter w(frontend_type::kAuthResponse);
  w.cstring(mechanism);
  if (data) {
    w.i32(static_cast<int32_t>(data->size())).bytes(*data);
  } else {
    w.i32(-1);
  }
  return w.finish();
}

std::string encode_sasl_response(std::string_view data) {
  return MessageWriter(frontend_type::kAuthResponse).bytes(data).finish();
}

}  // namespace tp::pg
