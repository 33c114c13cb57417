// What every proxy connection shares: the in-process Auth Service, the reverse tunnel server, the
// web API and the TLS contexts (replaced when the proxy's host certificate is renewed).
// Asio heavy: include only from .cc files.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "auth/api_server.h"
#include "auth/auth_server.h"
#include "common/rng.h"
#include "proxy/peer_cert.h"
#include "proxy/web_api.h"
#include "tunnel/tunnel.h"

namespace tp::proxy::internal {

namespace asio = boost::asio;
using SslContextPtr = std::shared_ptr<asio::ssl::context>;

struct TlsContexts {
  SslContextPtr web;       // web port: ALPN routing; client certificates optional, verified after the handshake
  SslContextPtr database;  // native PostgreSQL listener after SSLRequest (and TLS inside teleport-postgres)
  SslContextPtr tunnel;    // tunnel_listen_addr: agents must present a host certificate
};

class ProxyState {
 public:
  ProxyState(asio::io_context& io, AuthServer& auth, AuthApi& auth_api, asio::thread_pool& workers,
             std::shared_ptr<tunnel::TunnelServer> tunnel, WebApiConfig web_config, Rng& rng)
      : io(io), auth(auth), auth_api(auth_api), workers(workers), tunnel(std::move(tunnel)),
        web_api(auth, std::move(web_config)), rng(rng) {}

  asio::io_context& io;
  // The event loop for a new connection (net/io_pool.h), run by one thread; unset: `io`, which
  // may be run by several.
  std::function<asio::io_context&()> session_io;
  AuthServer& auth;
  AuthApi& auth_api;
  asio::thread_pool& workers;  // the Auth Service's: web and Auth API handlers run there
  std::shared_ptr<tunnel::TunnelServer> tunnel;
  const WebApi web_api;
  Rng& rng;

  TlsContexts contexts() const {
    std::lock_guard lock(mu_);
    return contexts_;
  }
  void set_contexts(TlsContexts c) {
    std::lock_guard lock(mu_);
    contexts_ = std::move(c);
  }

  // The peer certificate of an established TLS connection, verified against the cluster's CAs now.
  PeerCert verify_peer(SSL* ssl) const;

 private:
  mutable std::mutex mu_;
  TlsContexts contexts_;
};

}  // namespace tp::proxy::internal
