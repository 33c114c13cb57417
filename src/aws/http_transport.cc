// The only translation unit that includes Asio/Beast in the AWS client (it takes ~20 s to compile).
#include "aws/http_transport.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "aws/endpoint.h"

namespace tp::aws {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

#ifndef TP_VERSION
#define TP_VERSION "dev"
#endif

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

http::request<http::string_body> build_request(const HttpRequest& in, const Url& url, Result<void>& status) {
  http::request<http::string_body> req;
  http::verb verb = http::string_to_verb(in.method);
  if (verb == http::verb::unknown) status = invalid_argument("unsupported HTTP method \"" + in.method + "\"");
  req.method(verb);
  req.target(url.target);
  req.version(11);
  for (const auto& [name, value] : in.headers) req.insert(name, value);
  if (req.find(http::field::host) == req.end()) req.set(http::field::host, url.host_header());
  if (req.find(http::field::user_agent) == req.end())
    req.set(http::field::user_agent, "teleport-db/" TP_VERSION);
  req.set(http::field::connection, "close");
  req.body() = in.body;
  if (!in.body.empty() || verb == http::verb::post || verb == http::verb::put) req.prepare_payload();
  return req;
}

HttpResponse convert(http::response<http::string_body>& res) {
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res)
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  return out;
}

// One exchange over an established stream (plain tcp_stream or ssl_stream<tcp_stream>).
template <class Stream>
asio::awaitable<void> exchange(Stream& stream, beast::tcp_stream& tcp, http::request<http::string_body>& req,
                               size_t max_bytes, Clock::time_point deadline, HttpResponse& out) {
  tcp.expires_at(deadline);
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_bytes);
  tcp.expires_at(deadline);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  out = convert(parser.get());
}

class BeastHttpTransport final : public HttpTransport {
 public:
  explicit BeastHttpTransport(HttpTransportOptions options) : options_(std::move(options)) {}

  Result<HttpResponse> send(const HttpRequest& request, std::chrono::milliseconds timeout) override {
    TP_TRY(Url url, parse_url(request.url));
    Result<void> status;
    auto req = build_request(request, url, status);
    if (!status.ok()) return status.error();

    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    std::optional<asio::ssl::context> tls;
    std::optional<beast::tcp_stream> plain_stream;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
    if (url.scheme == "https") {
      tls.emplace(asio::ssl::context::tls_client);
      boost::system::error_code ec;
      if (options_.ca_file.empty()) {
        tls->set_default_verify_paths(ec);
      } else {
        tls->load_verify_file(options_.ca_file, ec);
      }
      if (ec) return internal_error("loading CA certificates " + options_.ca_file + ": " + ec.message());
      tls->set_verify_mode(asio::ssl::verify_peer);
      tls_stream.emplace(ioc, *tls);
      tls_stream->set_verify_callback(asio::ssl::host_name_verification(url.host));
      if (!is_ip_literal(url.host) &&
          !SSL_set_tlsext_host_name(tls_stream->native_handle(), url.host.c_str())) {
        return internal_error("setting TLS SNI for " + url.host);
      }
    }

    if (!tls_stream) plain_stream.emplace(ioc);
    beast::tcp_stream& lowest = tls_stream ? beast::get_lowest_layer(*tls_stream) : *plain_stream;
    const auto deadline = Clock::now() + timeout;
    HttpResponse response;
    std::string failure;
    bool done = false;
    std::string phase = "resolving";
    auto run = [&]() -> asio::awaitable<void> {
      try {
        auto endpoints =
            co_await resolver.async_resolve(url.host, std::to_string(url.port), asio::use_awaitable);
        phase = "connecting";
        lowest.expires_at(deadline);
        co_await lowest.async_connect(endpoints, asio::use_awaitable);
        if (tls_stream) {
          phase = "TLS handshake";
          lowest.expires_at(deadline);
          co_await tls_stream->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
          phase = "exchanging";
          co_await exchange(*tls_stream, lowest, req, options_.max_response_bytes, deadline, response);
        } else {
          phase = "exchanging";
          co_await exchange(*plain_stream, lowest, req, options_.max_response_bytes, deadline, response);
        }
      } catch (const boost::system::system_error& e) {
        failure = e.code() == beast::error::timeout ? "timed out" : e.code().message();
        if (e.code().category() == asio::error::get_ssl_category() ||
            e.code().category() == asio::ssl::error::get_stream_category()) {
          failure = "TLS error: " + failure;
        }
      }
      done = true;
    };
    asio::co_spawn(ioc, run(), asio::detached);
    ioc.run_for(timeout);
    if (!done) {
      // DNS has no per-operation timeout: cancel everything and let the coroutine unwind.
      resolver.cancel();
      lowest.cancel();
      ioc.restart();
      ioc.run();
      failure = "timed out";
    }
    if (failure == "timed out") failure += " after " + std::to_string(timeout.count()) + " ms";
    boost::system::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    if (!failure.empty()) {
      return unavailable(request.method + " " + request.url + ": " + phase + ": " + failure);
    }
    return response;
  }

 private:
  HttpTransportOptions options_;
};

}  // namespace

std::unique_ptr<HttpTransport> make_http_transport(HttpTransportOptions options) {
  return std::make_unique<BeastHttpTransport>(std::move(options));
}

}  // namespace tp::aws
