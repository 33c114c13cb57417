#include "tunnel/dial_line.h"

#include "common/strings.h"

namespace tp::tunnel {

using nlohmann::json;

nlohmann::json DialRequest::to_json() const {
  json j{{"kind", kind},
         {"db_name", db_name},
         {"protocol", protocol},
         {"client_cert", client_cert_pem},
         {"client_addr", client_addr},
         {"session_id", session_id}};
  // Client bytes are binary; JSON strings must be UTF-8.
  if (!initial_data.empty()) j["initial_data_b64"] = base64_encode(initial_data);
  if (kind == kDialPostgresCancel) {
    j["cancel_process_id"] = cancel_process_id;
    j["cancel_secret_key"] = cancel_secret_key;
  }
  return j;
}

Result<DialRequest> DialRequest::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return invalid_argument("dial request: expected a JSON object");
  DialRequest r;
  try {
    r.kind = j.value("kind", std::string(kDialDatabase));
    r.db_name = j.value("db_name", "");
    r.protocol = j.value("protocol", "");
    r.client_cert_pem = j.value("client_cert", "");
    r.client_addr = j.value("client_addr", "");
    r.session_id = j.value("session_id", "");
    r.cancel_process_id = j.value("cancel_process_id", uint32_t{0});
    r.cancel_secret_key = j.value("cancel_secret_key", uint32_t{0});
    if (j.contains("initial_data_b64")) {
      TP_TRY(r.initial_data, base64_decode(j["initial_data_b64"].get<std::string>()));
    }
  } catch (const json::exception& e) {
    return invalid_argument(std::string("dial request: wrong field type: ") + e.what());
  }
  if (r.kind != kDialDatabase && r.kind != kDialPostgresCancel)
    return invalid_argument("dial request: unknown kind \"" + r.kind + "\"");
  if (r.kind == kDialDatabase && r.db_name.empty()) return invalid_argument("dial request: missing db_name");
  return r;
}

std::string encode_dial_line(const DialRequest& request) {
  // Every string field is UTF-8 (names, PEM) and the binary one is base64, so
  // dump() cannot throw; replace() keeps a stray byte from ending the process.
  return request.to_json().dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<DialRequest> decode_dial_line(std::string_view line) {
  if (line.size() > kMaxDialLine) return invalid_argument("dial request: line too long");
  auto j = json::parse(line, nullptr, false);
  if (j.is_discarded()) return invalid_argument("dial request: not JSON");
  return DialRequest::from_json(j);
}

std::string encode_dial_answer(const Status& status) {
  json j = status.ok() ? json{{"ok", true}}
                       : json{{"ok", false},
                              {"code", error_code_name(status.error().code)},
                              {"error", status.error().message}};
  std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (line.size() + 1 > kMaxAnswerLine) {
    j["error"] = status.error().message.substr(0, kMaxAnswerLine / 2) + "...";
    line = j.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return line + "\n";
}

Status decode_dial_answer(std::string_view line) {
  auto j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
    return unavailable("reverse tunnel: the agent's answer is not readable");
  if (j["ok"].get<bool>()) return {};
  std::string code = j.value("code", "internal");
  std::string message = j.value("error", "the agent refused the connection");
  return Error{error_code_from_name(code), message};
}

ErrorCode error_code_from_name(std::string_view name) {
  static constexpr ErrorCode kAll[] = {
      ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kAlreadyExists, ErrorCode::kAccessDenied,
      ErrorCode::kUnauthenticated, ErrorCode::kExpired,  ErrorCode::kLimitExceeded, ErrorCode::kCompareFailed,
      ErrorCode::kUnavailable,     ErrorCode::kInternal};
  for (ErrorCode c : kAll)
    if (name == error_code_name(c)) return c;
  return ErrorCode::kInternal;
}

}  // namespace tp::tunnel
