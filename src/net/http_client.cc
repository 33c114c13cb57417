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
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace tp::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using Stream = asio::ssl::stream<tcp::socket>;

// One request's exchange, driven by a private io_context until it completes
// or `timeout` passes.
struct Exchange {
  const HostPort& addr;
  std::optional<Error> failure;
  bool received_nothing = true;  // no response bytes arrived: safe to resend on a new connection
  bool keep_open = false;        // the server will take another request on this connection
  RawResponse out;
};

http::request<http::string_body> make_request(const HostPort& addr, const std::string& method,
                                              const std::string& path, const std::string& body,
                                              const std::string& content_type) {
  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, addr.str());
  req.set(http::field::user_agent, "teleport/" TP_VERSION);
  req.set(http::field::content_type, content_type);
  req.body() = body;
  req.prepare_payload();
  return req;
}

std::unique_ptr<Stream> new_stream(asio::io_context& io, asio::ssl::context& ctx, const HostPort& addr,
                                   const TlsClientConfig& tls) {
  auto stream = std::make_unique<Stream>(io, ctx);
  std::string server_name = tls.server_name.empty() ? addr.host : tls.server_name;
  if (!tls.insecure_skip_verify && !tls.server_name.empty())
    stream->set_verify_callback(asio::ssl::host_name_verification(tls.server_name));
  SSL_set_tlsext_host_name(stream->native_handle(), server_name.c_str());
  return stream;
}

// Resolve, connect and handshake, then `then`. The handlers hold pointers:
// the stream and the exchange outlive the io_context run that calls them.
void start_connect(asio::io_context& io, Stream& stream_ref, const HostPort& addr_ref, Exchange& x_ref,
                   std::function<void()> then) {
  Stream* stream = &stream_ref;
  const HostPort* addr = &addr_ref;
  Exchange* x = &x_ref;
  auto resolver = std::make_shared<tcp::resolver>(io);
  resolver->async_resolve(addr->host, std::to_string(addr->port), [=, keep = resolver](auto rec, auto results) {
    (void)keep;  // the resolver lives until its answer
    if (rec) {
      x->failure = unavailable("cannot resolve " + addr->host + ": " + rec.message());
      return;
    }
    asio::async_connect(stream->lowest_layer(), results, [=](auto cec, auto) {
      if (cec) {
        x->failure = unavailable("cannot connect to " + addr->str() + ": " + cec.message() +
                                 " (is the service running and the address right?)");
        return;
      }
      stream->async_handshake(asio::ssl::stream_base::client, [=](auto hec) {
        if (hec) {
          std::string why = hec.message();
          long verify = SSL_get_verify_result(stream->native_handle());
          if (verify != X509_V_OK) why = X509_verify_cert_error_string(verify);
          x->failure = unauthenticated("TLS handshake with " + addr->str() + " failed: " + why);
          return;
        }
        then();
      });
    });
  });
}

void start_exchange(Stream& stream, http::request<http::string_body>& req, boost::beast::flat_buffer& buffer,
                    http::response_parser<http::string_body>& parser, Exchange& x) {
  http::async_write(stream, req, [&](auto wec, auto) {
    if (wec) {
      x.failure = unavailable("sending request to " + x.addr.str() + ": " + wec.message());
      return;
    }
    http::async_read(stream, buffer, parser, [&](auto rec, auto) {
      if (rec) {
        if (parser.got_some()) x.received_nothing = false;
        x.failure = unavailable("reading response from " + x.addr.str() + ": " + rec.message());
        return;
      }
      x.received_nothing = false;
      x.out.status = static_cast<int>(parser.get().result_int());
      x.keep_open = parser.get().keep_alive();
      x.out.body = std::move(parser.get().body());
    });
  });
}

// Runs io until the exchange finishes; false on timeout.
bool run(asio::io_context& io, std::chrono::milliseconds timeout) {
  io.restart();
  io.run_for(timeout);
  return io.stopped();
}

Result<RawResponse> finish(Exchange& x, bool finished, const HostPort& addr, std::chrono::milliseconds timeout) {
  if (!finished)
    return unavailable("timed out after " + std::to_string(timeout.count() / 1000) + "s talking to " + addr.str());
  if (x.failure) return *x.failure;
  if (x.out.status == 0) return unavailable("no response from " + addr.str());
  return std::move(x.out);
}

}  // namespace

struct HttpsClient::Connection {
  std::mutex mu;  // one call at a time
  std::optional<asio::ssl::context> ctx;
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>();
  std::unique_ptr<Stream> stream;  // null: not connected
  boost::beast::flat_buffer buffer;

  // After a timeout, handlers still queued point at a finished call's locals:
  // the stream goes first (cancelling them), then the io_context that would run them.
  void drop(bool timed_out) {
    stream.reset();
    if (timed_out) io = std::make_unique<asio::io_context>();
  }
};

HttpsClient::HttpsClient(HostPort addr, TlsClientConfig tls, std::chrono::milliseconds timeout)
    : addr_(std::move(addr)), tls_(std::move(tls)), timeout_(timeout) {}

HttpsClient& HttpsClient::keep_alive() {
  if (!kept_) kept_ = std::make_shared<Connection>();
  return *this;
}

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
  if (kept_) return raw_on_kept_connection(method, path, body, content_type);
  TP_TRY(auto ctx, make_client_context(tls_));
  asio::io_context io;
  auto stream = new_stream(io, ctx, addr_, tls_);
  auto req = make_request(addr_, method, path, body, content_type);
  req.keep_alive(false);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  Exchange x{addr_};
  start_connect(io, *stream, addr_, x, [&] { start_exchange(*stream, req, buffer, parser, x); });
  bool finished = run(io, timeout_);
  return finish(x, finished, addr_, timeout_);
}

Result<RawResponse> HttpsClient::raw_on_kept_connection(const std::string& method, const std::string& path,
                                                        const std::string& body,
                                                        const std::string& content_type) const {
  Connection& c = *kept_;
  std::lock_guard lock(c.mu);
  if (!c.ctx) {
    TP_TRY(auto ctx, make_client_context(tls_));
    c.ctx.emplace(std::move(ctx));
  }
  auto req = make_request(addr_, method, path, body, content_type);
  for (int attempt = 0;; ++attempt) {
    const bool reused = c.stream != nullptr;
    if (!reused) {
      c.buffer.clear();
      c.stream = new_stream(*c.io, *c.ctx, addr_, tls_);
      Exchange connecting{addr_};
      start_connect(*c.io, *c.stream, addr_, connecting, [] {});
      bool finished = run(*c.io, timeout_);
      if (!finished || connecting.failure) {
        c.drop(!finished);
        if (!finished)
          return unavailable("timed out after " + std::to_string(timeout_.count() / 1000) + "s connecting to " +
                             addr_.str());
        return *connecting.failure;
      }
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    Exchange x{addr_};
    start_exchange(*c.stream, req, c.buffer, parser, x);
    bool finished = run(*c.io, timeout_);
    if (!finished || x.failure || !x.keep_open) c.drop(!finished);  // unknown state: never reuse it
    // The server may close an idle connection at any moment; that is not an
    // error, as long as it answered nothing to this request.
    if (finished && x.failure && reused && x.received_nothing && attempt == 0) continue;
    return finish(x, finished, addr_, timeout_);
  }
}

}  // namespace tp::net
