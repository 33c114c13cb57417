#include "proxy/proxy_service.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/files.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "net/io_pool.h"
#include "net/tls.h"
#include "proxy/alpn.h"
#include "proxy/internal/frontends.h"
#include "proxy/mysql_frontend.h"
#include "service/auth_service.h"
#include "service/service_set.h"
#include "tunnel/tunnel.h"

namespace tp {

namespace asio = boost::asio;
using proxy::internal::ProxyState;
using proxy::internal::SslContextPtr;
using proxy::internal::TlsContexts;

namespace {

// The proxy's host certificate lasts AuthConfig::host_cert_ttl (24 h); renew at half of that.
constexpr auto kRenewEvery = std::chrono::hours(12);
constexpr auto kRenewRetry = std::chrono::minutes(1);

using ConnectionHandler = asio::awaitable<void> (*)(std::shared_ptr<ProxyState>, net::tcp::socket);

struct Listener {
  std::string name;
  net::tcp::acceptor acceptor;
};

// Client certificates are verified after the handshake (proxy/peer_cert.h), so that a missing or
// expired one becomes a message in the client's protocol rather than a TLS alert. OpenSSL does not
// build and check the chain during the handshake as well: every connection on these contexts goes
// through ProxyState::verify_peer, and doing it twice was a sixth of the proxy's CPU per new
// connection. (The handshake still proves the client holds the certificate's key.)
int accept_any_chain(X509_STORE_CTX*, void*) { return 1; }

struct HostIdentity {
  std::string cert_pem, key_pem;
};

Result<HostIdentity> issue_proxy_identity(AuthServer& auth, const TeleportConfig& config) {
  TP_TRY(auto key, PrivateKey::generate());
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  auto add = [&](const std::string& addr) {
    auto hp = parse_host_port(addr, 3080);
    if (hp.ok() && hp->host != "0.0.0.0" && hp->host != "::" && !hp->host.empty()) names.push_back(hp->host);
  };
  add(config.proxy.public_addr);
  add(config.proxy.web_listen_addr);
  if (!config.nodename.empty()) names.push_back(config.nodename);
  std::string host_id = config.nodename.empty() ? "proxy" : config.nodename;
  TP_TRY(auto certs, auth.issue_host_certs(host_id, kHostRoleProxy, key.public_key_pem(), names));
  return HostIdentity{certs.cert_pem, key.to_pem()};
}

Result<SslContextPtr> server_context(const net::TlsServerConfig& tls, bool verify_later) {
  TP_TRY(auto ctx, net::make_server_context(tls));
  if (verify_later) {
    SSL_CTX_set_verify(ctx.native_handle(), SSL_VERIFY_PEER, nullptr);  // ask for a certificate
    SSL_CTX_set_cert_verify_callback(ctx.native_handle(), accept_any_chain, nullptr);
  }
  return std::make_shared<asio::ssl::context>(std::move(ctx));
}

Result<TlsContexts> build_contexts(AuthServer& auth, const TeleportConfig& config) {
  TP_TRY(auto host, issue_proxy_identity(auth, config));
  auto user_cas = auth.ca_cert_pems(CaType::kUser);
  auto host_cas = auth.ca_cert_pems(CaType::kHost);
  std::vector<std::string> client_cas = user_cas;
  client_cas.insert(client_cas.end(), host_cas.begin(), host_cas.end());

  net::TlsServerConfig web{host.cert_pem, host.key_pem, client_cas, false, proxy::web_alpn_protocols()};
  if (!config.proxy.https_keypairs.empty()) {
    // A publicly trusted certificate for browsers and curl; tsh then verifies with system roots.
    const auto& pair = config.proxy.https_keypairs.front();
    auto cert = read_file(pair.cert_file);
    if (!cert.ok()) return cert.error().wrap("proxy_service.https_keypairs[0].cert_file");
    auto key = read_file(pair.key_file);
    if (!key.ok()) return key.error().wrap("proxy_service.https_keypairs[0].key_file");
    web.cert_pem = *cert;
    web.key_pem = *key;
  }
  TlsContexts out;
  TP_TRY(out.web, server_context(web, true));
  TP_TRY(out.database, server_context({host.cert_pem, host.key_pem, client_cas, false, {}}, true));
  TP_TRY(out.tunnel, server_context({host.cert_pem, host.key_pem, host_cas, true, {}}, false));
  // Agents resume their tunnel connections' TLS sessions when they reconnect. Users' connections
  // never resume.
  net::resume_sessions_for(*out.web, tunnel::kAlpnReverseTunnel, tunnel::kTunnelSessionLifetime);
  net::resume_sessions_for(*out.tunnel, "", tunnel::kTunnelSessionLifetime);
  return out;
}

asio::awaitable<void> accept_loop(std::shared_ptr<Listener> listener, std::shared_ptr<ProxyState> state,
                                  ConnectionHandler handler) {
  while (true) {
    // Each connection stays on one event loop (net/io_pool.h); session_io's loops have one thread.
    asio::any_io_executor executor = state->session_io ? net::session_executor(state->session_io(), true)
                                                       : net::session_executor(state->io, false);
    auto [ec, socket] =
        co_await listener->acceptor.async_accept(executor, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !listener->acceptor.is_open()) co_return;
      log::warn("proxy", "accept failed", {{"listener", listener->name}, {"error", ec.message()}});
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(
        executor, handler(state, std::move(socket)), [name = listener->name](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            log::error("proxy", "connection handler failed", {{"listener", name}, {"error", x.what()}});
          }
        });
  }
}

asio::awaitable<void> renew_loop(std::shared_ptr<ProxyState> state, std::shared_ptr<asio::steady_timer> timer,
                                 TeleportConfig config) {
  auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kRenewEvery);
  while (true) {
    timer->expires_after(wait);
    auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto contexts = build_contexts(state->auth, config);
    if (!contexts.ok()) {
      log::error("proxy", "renewing the proxy's host certificate failed; retrying",
                 {{"error", contexts.error().message}});
      wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kRenewRetry);
      continue;
    }
    state->set_contexts(std::move(*contexts));
    log::info("proxy", "renewed the proxy's host certificate");
    wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kRenewEvery);
  }
}

std::string local_addr(const net::tcp::acceptor& acceptor) {
  boost::system::error_code ec;
  auto ep = acceptor.local_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

Result<std::shared_ptr<Listener>> open_listener(asio::io_context& io, const std::string& name, const std::string& addr,
                                                uint16_t default_port) {
  auto hp = parse_host_port(addr, default_port);
  if (!hp.ok()) return hp.error().wrap("proxy_service." + name);
  auto acceptor = net::listen_tcp(io, *hp);
  if (!acceptor.ok()) return acceptor.error().wrap("proxy_service." + name);
  return std::make_shared<Listener>(Listener{name, std::move(*acceptor)});
}

}  // namespace

Status start_proxy_service(ServiceSet& services) {
  const TeleportConfig& config = services.config;
  if (!services.auth)
    return invalid_argument("proxy_service: this build runs the Proxy Service only together with auth_service in "
                            "the same process; enable auth_service in " + config.path);
  AuthService& auth = *services.auth;
  const bool mysql_listening = !config.proxy.mysql_listen_addr.empty();
  TP_TRY(auto addrs, proxy::public_addrs(config, mysql_listening));
  proxy::WebApiConfig web_config{addrs, config.auth.second_factor};
  auto state = std::make_shared<ProxyState>(services.io, auth.server(), auth.api(), auth.workers(),
                                            tunnel::make_tunnel_server(services.loops),
                                            web_config, crypto_rng());
  state->session_io = services.session_io;
  TP_TRY(auto contexts, build_contexts(auth.server(), config));
  state->set_contexts(std::move(contexts));

  std::vector<std::pair<std::shared_ptr<Listener>, ConnectionHandler>> listeners;
  TP_TRY(auto web, open_listener(services.io, "web_listen_addr", config.proxy.web_listen_addr, 3080));
  listeners.push_back({web, proxy::internal::serve_web_connection});
  if (!config.proxy.postgres_listen_addr.empty()) {
    TP_TRY(auto pg, open_listener(services.io, "postgres_listen_addr", config.proxy.postgres_listen_addr, 5432));
    listeners.push_back({pg, proxy::internal::serve_postgres_native});
  }
  if (mysql_listening) {
    TP_TRY(auto my, open_listener(services.io, "mysql_listen_addr", config.proxy.mysql_listen_addr, 3036));
    listeners.push_back({my, proxy::internal::serve_mysql_native});
  }
  if (!config.proxy.tunnel_listen_addr.empty()) {
    TP_TRY(auto tl, open_listener(services.io, "tunnel_listen_addr", config.proxy.tunnel_listen_addr, 3024));
    listeners.push_back({tl, proxy::internal::serve_tunnel_connection});
  }
  for (auto& [listener, handler] : listeners) {
    asio::co_spawn(services.io, accept_loop(listener, state, handler), asio::detached);
    log::info("proxy", "Proxy Service is listening", {{"listener", listener->name},
                                                      {"addr", local_addr(listener->acceptor)}});
  }
  auto renew_timer = std::make_shared<asio::steady_timer>(services.io);
  asio::co_spawn(services.io, renew_loop(state, renew_timer, config), asio::detached);

  services.on_stop.push_back([listeners, renew_timer] {
    boost::system::error_code ignored;
    for (auto& [listener, _] : listeners) listener->acceptor.close(ignored);
    renew_timer->cancel();
  });
  log::info("proxy", "Proxy Service started", {{"public_addr", addrs.web},
                                               {"postgres", addrs.postgres.empty() ? "off" : addrs.postgres},
                                               {"mysql", addrs.mysql.empty() ? "off" : addrs.mysql}});
  return {};
}

}  // namespace tp
