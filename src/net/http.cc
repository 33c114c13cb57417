#include "net/http.h"

#include "common/strings.h"

namespace tp::net {

Result<nlohmann::json> HttpRequest::json() const {
  if (trim(body).empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return invalid_argument("request body is not valid JSON");
  return j;
}

HttpResponse HttpResponse::json(const nlohmann::json& j, int status) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump();
  return r;
}

HttpResponse HttpResponse::error(const Error& e) {
  return json({{"error", {{"code", error_code_name(e.code)}, {"message", e.message}}}},
              http_status_for(e.code));
}

HttpResponse HttpResponse::text(std::string body, std::string content_type, int status) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kAccessDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kCompareFailed: return 409;
    case ErrorCode::kExpired: return 410;
    case ErrorCode::kLimitExceeded: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

Error error_from_response(int status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
    std::string code = j["error"].value("code", "internal");
    std::string message = j["error"].value("message", "unknown error");
    for (auto c : {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kAlreadyExists,
                   ErrorCode::kAccessDenied, ErrorCode::kUnauthenticated, ErrorCode::kExpired,
                   ErrorCode::kLimitExceeded, ErrorCode::kCompareFailed, ErrorCode::kUnavailable,
                   ErrorCode::kInternal})
      if (code == error_code_name(c)) return Error{c, message};
    return internal_error(message);
  }
  return internal_error("HTTP " + std::to_string(status) + ": " + body.substr(0, 200));
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto b = from_hex(s.substr(i + 1, 2));
      if (b.ok()) {
        out += *b;
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out += to_hex(std::string(1, static_cast<char>(c)));
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  for (auto& pair : split(q, '&')) {
    auto eq = pair.find('=');
    if (eq == std::string::npos) out[url_decode(pair)] = "";
    else out[url_decode(pair.substr(0, eq))] = url_decode(pair.substr(eq + 1));
  }
  return out;
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), split(pattern, '/'), std::move(handler)});
}

HttpResponse Router::dispatch(const HttpRequest& request) const {
  auto segments = split(request.path, '/');
  bool path_matched = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    Params params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      if (!route.segments[i].empty() && route.segments[i][0] == ':')
        params[route.segments[i].substr(1)] = url_decode(segments[i]);
      else
        match = route.segments[i] == segments[i];
    }
    if (!match) continue;
    path_matched = true;
    if (route.method != request.method) continue;
    return route.handler(request, params);
  }
  if (path_matched)
    return HttpResponse::json({{"error", {{"code", "invalid_argument"}, {"message", "method not allowed"}}}},
                              405);
  return HttpResponse::error(not_found("no such API endpoint: " + request.method + " " + request.path));
}

}  // namespace tp::net
