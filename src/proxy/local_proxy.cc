#include "proxy/local_proxy.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

#include "common/log.h"
#include "net/server.h"
#include "net/tls.h"
#include "proxy/alpn.h"
#include "proxy/client_errors.h"
#include "proxy/internal/streams.h"

namespace tp::proxy {

namespace asio = boost::asio;
using namespace internal;

namespace {

class LocalProxyImpl final : public LocalProxy, public std::enable_shared_from_this<LocalProxyImpl> {
 public:
  LocalProxyImpl(asio::io_context& io, LocalProxyConfig config, net::tcp::acceptor acceptor)
      : io_(io), config_(std::move(config)), acceptor_(std::move(acceptor)) {
    port_ = acceptor_.local_endpoint().port();
  }

  uint16_t port() const override { return port_; }
  void stop() override {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(io_, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        continue;
      }
      asio::co_spawn(io_, serve(self, std::move(socket)), asio::detached);
    }
  }

 private:
  static asio::awaitable<void> serve(std::shared_ptr<LocalProxyImpl> self, net::tcp::socket local) {
    boost::system::error_code ignored;
    local.set_option(net::tcp::no_delay(true), ignored);
    auto remote = co_await self->connect();
    if (!remote.ok()) {
      log::warn("tsh", "local proxy connection failed", {{"error", remote.error().message}});
      const std::string refusal = client_error_for_protocol(self->config_.protocol, remote.error());
      co_await send_and_close(local, refusal);
      co_return;
    }
    co_await relay(local, *remote->stream);
    co_await close_stream(*remote->stream);
    co_await close_stream(local);
  }

  struct Remote {
    std::shared_ptr<asio::ssl::context> ctx;  // declared first: outlives the stream
    std::unique_ptr<net::TlsStream> stream;
  };

  asio::awaitable<Result<Remote>> connect() {
    LocalProxyCredentials creds;
    if (config_.credentials) {
      auto c = config_.credentials();
      if (!c.ok()) co_return c.error();
      creds = std::move(*c);
    }
    const std::string alpn = alpn_for_db_protocol(config_.protocol);
    const std::string server_name = config_.server_name.empty() ? config_.proxy_addr.host : config_.server_name;
    net::TlsClientConfig tls{creds.cert_pem, creds.key_pem, config_.ca_pems, config_.insecure, server_name, {alpn}};
    auto ctx = net::make_client_context(tls);
    if (!ctx.ok()) co_return ctx.error();
    Remote remote;
    remote.ctx = std::make_shared<asio::ssl::context>(std::move(*ctx));
    auto socket = co_await net::connect_tcp(config_.proxy_addr, std::chrono::seconds(10));
    if (!socket.ok()) co_return socket.error();
    remote.stream = std::make_unique<net::TlsStream>(std::move(*socket), *remote.ctx);
    if (auto named = net::expect_server_name(remote.stream->native_handle(), server_name, !config_.insecure);
        !named.ok())
      co_return named.error();
    if (!co_await handshake_for(*remote.stream, asio::ssl::stream_base::client, std::chrono::seconds(10))) {
      long verify = SSL_get_verify_result(remote.stream->native_handle());
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "handshake failed";
      co_return unauthenticated("TLS handshake with the proxy at " + config_.proxy_addr.str() + " failed: " + why);
    }
    if (net::negotiated_alpn(remote.stream->native_handle()) != alpn)
      co_return unavailable("the proxy at " + config_.proxy_addr.str() + " does not route " + alpn +
                            " connections (TLS routing); is it a Teleport proxy's web address?");
    co_return std::move(remote);
  }

  asio::io_context& io_;
  LocalProxyConfig config_;
  net::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
};

}  // namespace

Result<std::shared_ptr<LocalProxy>> start_local_proxy(asio::io_context& io, LocalProxyConfig config) {
  if (alpn_for_db_protocol(config.protocol).empty())
    return invalid_argument("local proxy: unsupported database protocol \"" + config.protocol + "\"");
  TP_TRY(auto acceptor, net::listen_tcp(io, config.listen));
  auto proxy = std::make_shared<LocalProxyImpl>(io, std::move(config), std::move(acceptor));
  asio::co_spawn(io, proxy->accept_loop(), asio::detached);
  return std::shared_ptr<LocalProxy>(proxy);
}

}  // namespace tp::proxy
