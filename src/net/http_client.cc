#include "net/http_client.h"

#include "net/http.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace tp::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

HttpsClient::HttpsClient(HostPort addr, TlsClientConfig tls, std::chrono::milliseconds timeout)
    : addr_(std::move(addr)), tls_(std::move(tls)), timeout_(timeout) {}

Result<nlohmann::json> HttpsClient::call(const std::string& method, const std::string& path,
                                         const nlohmann::json& body) const {
  TP_TRY(auto response, raw(method, path, body.is_null() ? std::string() : body.dump()));
  if (response.status < 200 || response.status >= 300) return error_from_response(response.status, response.body);
  if (trim(response.body).empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(response.body, nullptr, false);
  if (j.is_discarded()) return internal_error("server at " + addr_.str() + " answered with invalid JSON");
  return j;
}

Result<RawResponse> HttpsClient::raw(const std::string& method, const std::string& path, const std::string& body,
                                     const std::string& content_type) const {
  TP_TRY(auto ctx, make_client_context(tls_));
  asio::io_context io;
  asio::ssl::stream<tcp::socket> stream(io, ctx);
  std::string server_name = tls_.server_name.empty() ? addr_.host : tls_.server_name;
  if (!tls_.insecure_skip_verify && !tls_.server_name.empty())
    stream.set_verify_callback(asio::ssl::host_name_verification(tls_.server_name));
  SSL_set_tlsext_host_name(stream.native_handle(), server_name.c_str());

  boost::system::error_code ec;
  std::optional<Error> failure;
  RawResponse out;
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, addr_.str());
  req.set(http::field::user_agent, "teleport/" TP_VERSION);
  req.set(http::field::content_type, content_type);
  req.body() = body;
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);

  tcp::resolver resolver(io);
  resolver.async_resolve(addr_.host, std::to_string(addr_.port), [&](auto rec, auto results) {
    if (rec) {
      failure = unavailable("cannot resolve " + addr_.host + ": " + rec.message());
      return;
    }
    asio::async_connect(stream.lowest_layer(), results, [&](auto cec, auto) {
      if (cec) {
        failure = unavailable("cannot connect to " + addr_.str() + ": " + cec.message() +
                              " (is the service running and the address right?)");
        return;
      }
      stream.async_handshake(asio::ssl::stream_base::client, [&](auto hec) {
        if (hec) {
          std::string why = hec.message();
          long verify = SSL_get_verify_result(stream.native_handle());
          if (verify != X509_V_OK) why = X509_verify_cert_error_string(verify);
          failure = unauthenticated("TLS handshake with " + addr_.str() + " failed: " + why);
          return;
        }
        http::async_write(stream, req, [&](auto wec, auto) {
          if (wec) {
            failure = unavailable("sending request to " + addr_.str() + ": " + wec.message());
            return;
          }
          http::async_read(stream, buffer, parser, [&](auto rec2, auto) {
            if (rec2) {
              failure = unavailable("reading response from " + addr_.str() + ": " + rec2.message());
              return;
            }
            out.status = static_cast<int>(parser.get().result_int());
            out.body = std::move(parser.get().body());
          });
        });
      });
    });
  });
  io.run_for(timeout_);
  if (!io.stopped()) {
    return unavailable("timed out after " + std::to_string(timeout_.count() / 1000) + "s talking to " + addr_.str());
  }
  if (failure) return *failure;
  if (out.status == 0) return unavailable("no response from " + addr_.str());
  return out;
}

}  // namespace tp::net
