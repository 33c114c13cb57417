// A scripted HttpTransport for AWS client tests: records every request and answers from a
// handler, so API calls and credential chains run without sockets.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aws/http_transport.h"
#include "aws/sigv4.h"
#include "common/strings.h"

namespace tp::aws::testing {

class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<Result<HttpResponse>(const HttpRequest&)>;

  explicit FakeTransport(Handler handler = nullptr) : handler_(std::move(handler)) {}
  void set_handler(Handler h) { handler_ = std::move(h); }

  Result<HttpResponse> send(const HttpRequest& request, std::chrono::milliseconds timeout) override {
    requests.push_back(request);
    timeouts.push_back(timeout);
    if (!handler_) return unavailable("connect: connection refused");
    return handler_(request);
  }

  std::vector<HttpRequest> requests;
  std::vector<std::chrono::milliseconds> timeouts;

 private:
  Handler handler_;
};

inline HttpResponse xml_response(int status, std::string body) {
  return HttpResponse{status, {{"Content-Type", "text/xml"}}, std::move(body)};
}

// The decoded form parameter of a Query API request body, or "".
inline std::string form_param(const HttpRequest& r, const std::string& name) {
  for (auto& [k, v] : parse_query_string(r.body)) {
    if (k == name) return v;
  }
  return "";
}

inline std::string sts_credentials_xml(const std::string& action, const std::string& key_id,
                                       const std::string& expiration = "2015-08-30T13:36:00Z") {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" + action +
         "Result><Credentials><AccessKeyId>" + key_id + "</AccessKeyId><SecretAccessKey>secret-" + key_id +
         "</SecretAccessKey><SessionToken>token-" + key_id + "</SessionToken><Expiration>" + expiration +
         "</Expiration></Credentials></" + action +
         "Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></" + action + "Response>";
}

}  // namespace tp::aws::testing
