#include "aws/query_api.h"

#include "aws/endpoint.h"
#include "common/strings.h"

namespace tp::aws {

Result<HttpRequest> build_query_request(const ApiContext& ctx, const Credentials* creds,
                                        const QueryRequest& req) {
  TP_TRY(Endpoint endpoint, resolve_endpoint(req.service, req.region, ctx.env));
  TP_TRY(Url url, parse_url(endpoint.url));
  QueryParams form{{"Action", req.action}, {"Version", req.version}};
  form.insert(form.end(), req.params.begin(), req.params.end());

  SigningRequest to_sign;
  to_sign.method = "POST";
  // The endpoint URL may carry a path (a double mounted under a prefix); the query stays empty.
  std::string path = url.target.substr(0, url.target.find('?'));
  to_sign.path = path.empty() ? "/" : path;
  to_sign.headers = {{"Host", url.host_header()},
                     {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  to_sign.body = encode_query_string(form);

  HttpRequest out;
  out.method = "POST";
  out.url = url.scheme + "://" + url.host_header() + to_sign.path;
  out.body = to_sign.body;
  if (creds == nullptr) {
    out.headers = to_sign.headers;
    return out;
  }
  SignedRequest signed_req =
      sign_request(to_sign, *creds, {endpoint.signing_region, req.service}, ctx.clock.now());
  out.headers = signed_req.request.headers;
  return out;
}

std::optional<ApiError> parse_api_error(int http_status, std::string_view body) {
  auto doc = xml::parse(body);
  if (!doc.ok()) return std::nullopt;
  const xml::Element* err = doc->find("Error");
  if (err == nullptr) return std::nullopt;
  ApiError out;
  out.http_status = http_status;
  out.code = err->child_text("Code");
  out.message = err->child_text("Message");
  if (const xml::Element* rid = doc->find("RequestId")) out.request_id = trim(rid->text);
  if (out.code.empty()) return std::nullopt;
  return out;
}

Result<QueryResponse> send_query(const ApiContext& ctx, const Credentials* creds, const QueryRequest& req) {
  TP_TRY(HttpRequest http_req, build_query_request(ctx, creds, req));
  auto res = ctx.transport.send(http_req, ctx.timeout);
  if (!res.ok()) return res.error().wrap(req.service + " " + req.action);
  QueryResponse out;
  if (res->status < 200 || res->status >= 300) {
    if (auto api = parse_api_error(res->status, res->body)) {
      out.error = std::move(*api);
    } else {
      std::string snippet = res->body.substr(0, 300);
      out.error = ApiError{res->status, "HTTP " + std::to_string(res->status), trim(snippet), ""};
    }
    return out;
  }
  auto doc = xml::parse(res->body);
  if (!doc.ok()) {
    return internal_error(req.service + " " + req.action + ": cannot parse the response from " +
                          http_req.url + ": " + doc.error().message);
  }
  out.root = std::move(*doc);
  return out;
}

Error to_error(const QueryRequest& req, const ApiError& e) {
  const std::string& c = e.code;
  ErrorCode code;
  if (c == "AccessDenied" || c == "AccessDeniedException" || c == "UnauthorizedOperation") {
    code = ErrorCode::kAccessDenied;
  } else if (c.find("NotFound") != std::string::npos || c == "NoSuchEntity") {
    code = ErrorCode::kNotFound;
  } else if (c == "ExpiredToken" || c == "ExpiredTokenException") {
    code = ErrorCode::kExpired;
  } else if (c == "InvalidClientTokenId" || c == "SignatureDoesNotMatch" || c == "IncompleteSignature" ||
             c == "MissingAuthenticationToken" || c == "InvalidIdentityToken") {
    code = ErrorCode::kUnauthenticated;
  } else if (c == "LimitExceeded" || c == "Throttling" || c == "ThrottlingException" ||
             c == "RequestLimitExceeded") {
    code = ErrorCode::kLimitExceeded;
  } else if (e.http_status >= 500) {
    code = ErrorCode::kUnavailable;
  } else {
    code = ErrorCode::kInvalidArgument;
  }
  std::string msg = req.service + " " + req.action + ": " + e.code;
  if (!e.message.empty()) msg += ": " + e.message;
  if (!e.request_id.empty()) msg += " (request id " + e.request_id + ")";
  return Error{code, msg};
}

Result<xml::Element> call_query_api(const ApiContext& ctx, const Credentials* creds,
                                    const QueryRequest& req) {
  TP_TRY(QueryResponse res, send_query(ctx, creds, req));
  if (res.error) return to_error(req, *res.error);
  return std::move(res.root);
}

}  // namespace tp::aws
