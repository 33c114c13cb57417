// The web port: one TLS listener that serves everything by ALPN (DESIGN section 2, step 3), and the
// separate reverse-tunnel listener.
#include "common/log.h"
#include "net/tls.h"
#include "proxy/alpn.h"
#include "proxy/internal/database_session.h"
#include "proxy/internal/frontends.h"
#include "proxy/internal/streams.h"

namespace tp::proxy::internal {

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

// Hands a verified agent connection to the tunnel server, which owns it from now on.
void accept_agent(ProxyState& state, net::TlsStream stream, const PeerCert& peer, const std::string& client_addr) {
  auto agent = require_host(peer, kHostRoleDb);
  if (!agent.ok()) {
    log::warn("proxy", "reverse tunnel refused", {{"client", client_addr}, {"error", agent.error().message}});
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
    return;
  }
  log::debug("proxy", "agent connection joined the reverse tunnel",
             {{"agent", agent->username},
              {"client", client_addr},
              {"tls", net::resumed(stream.native_handle()) ? "resumed" : "full handshake"}});
  state.tunnel->add_connection(agent->username, std::move(stream));
}

}  // namespace

asio::awaitable<void> serve_web_connection(std::shared_ptr<ProxyState> state, net::tcp::socket socket) {
  std::string client_addr = net::endpoint_text(socket);
  boost::system::error_code ignored;
  socket.set_option(net::tcp::no_delay(true), ignored);
  auto ctx = state->contexts().web;
  net::TlsStream stream(std::move(socket), *ctx);
  if (!co_await net::tls_handshake(stream, asio::ssl::stream_base::server, kHandshakeTimeout)) {
    log::debug("proxy", "web TLS handshake failed", {{"client", client_addr}});
    co_return;
  }
  const std::string alpn = net::negotiated_alpn(stream.native_handle());
  const WebRoute route = route_for_alpn(alpn);
  PeerCert peer = state->verify_peer(stream.native_handle());
  log::debug("proxy", "web connection", {{"client", client_addr}, {"route", web_route_name(route)}, {"alpn", alpn}});

  switch (route) {
    case WebRoute::kHttp: {
      std::optional<Identity> identity = peer.identity;
      std::optional<std::string> cert_error;
      if (peer.error) cert_error = peer.error->message;
      const WebApi& api = state->web_api;
      const net::HttpHandler handler = [&api, cert_error](net::HttpRequest& request) {
        request.headers.erase(kPeerCertErrorHeader);  // only we may set it
        if (cert_error) request.headers[kPeerCertErrorHeader] = *cert_error;
        return api.handle(request);
      };
      co_await net::serve_http(stream, handler, identity, client_addr, std::chrono::seconds(60), &state->workers);
      break;
    }
    case WebRoute::kAuth: {
      // Agents reach the Auth API through the proxy; the API authorizes by the identity.
      AuthApi& api = state->auth_api;
      const net::HttpHandler handler = [&api](net::HttpRequest& request) { return api.handle(request); };
      co_await net::serve_http(stream, handler, peer.identity, client_addr, std::chrono::seconds(60), &state->workers);
      break;
    }
    case WebRoute::kReverseTunnel:
      accept_agent(*state, std::move(stream), peer, client_addr);
      break;
    case WebRoute::kPostgres:
      co_await serve_postgres_routed(state, stream, std::move(peer), client_addr);
      break;
    case WebRoute::kMysql: {
      // The agent speaks first (the server greeting), so the proxy has nothing to read.
      const std::string protocol = "mysql";
      co_await route_and_relay(*state, stream, peer, protocol, std::string(), client_addr);
      break;
    }
  }
}

asio::awaitable<void> serve_tunnel_connection(std::shared_ptr<ProxyState> state, net::tcp::socket socket) {
  std::string client_addr = net::endpoint_text(socket);
  auto ctx = state->contexts().tunnel;
  net::TlsStream stream(std::move(socket), *ctx);
  if (!co_await net::tls_handshake(stream, asio::ssl::stream_base::server, kHandshakeTimeout)) {
    log::debug("proxy", "tunnel TLS handshake failed", {{"client", client_addr}});
    co_return;
  }
  PeerCert peer = state->verify_peer(stream.native_handle());
  accept_agent(*state, std::move(stream), peer, client_addr);
}

}  // namespace tp::proxy::internal
