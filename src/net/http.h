// HTTP/1.1 + JSON messages shared by the Auth Service API and the proxy's web API.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "crypto/identity.h"

namespace tp::net {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::optional<Identity> peer;  // from a verified client certificate
  std::string peer_addr;

  // The body as JSON; an empty body reads as an empty object.
  Result<nlohmann::json> json() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(const nlohmann::json& j, int status = 200);
  // {"error": {"code": "...", "message": "..."}} with the status that fits the code.
  static HttpResponse error(const Error& e);
  static HttpResponse text(std::string body, std::string content_type = "text/plain; charset=utf-8",
                           int status = 200);
};

int http_status_for(ErrorCode code);
// Turns an error response body back into an Error (client side).
Error error_from_response(int status, const std::string& body);

std::string url_decode(std::string_view s);
std::string url_encode(std::string_view s);
std::map<std::string, std::string> parse_query(std::string_view q);

// A table of routes: "GET /v1/users/:name" style patterns; ":name" captures a segment.
class Router {
 public:
  using Params = std::map<std::string, std::string>;
  using Handler = std::function<HttpResponse(const HttpRequest&, const Params&)>;

  void add(std::string method, std::string pattern, Handler handler);
  HttpResponse dispatch(const HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace tp::net
