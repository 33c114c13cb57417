// The proxy's connection handlers, one coroutine per client connection (STYLE: "one readable
// coroutine per connection"). Asio heavy: include only from .cc files.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "common/result.h"
#include "net/server.h"
#include "proxy/internal/proxy_state.h"
#include "protocol/postgres/startup.h"

namespace tp::proxy::internal {

// proxy_service.postgres_listen_addr: SSLRequest, TLS, StartupMessage, route (postgres_frontend.cc).
asio::awaitable<void> serve_postgres_native(std::shared_ptr<ProxyState> state, net::tcp::socket socket);

// ALPN teleport-postgres on the web port: the client may still send SSLRequest for a TLS layer of
// its own (tsh proxy db without --tunnel), or go straight to StartupMessage.
asio::awaitable<void> serve_postgres_routed(std::shared_ptr<ProxyState> state, net::TlsStream& stream,
                                            PeerCert outer_peer, std::string client_addr);

// The web port (web_listener.cc): TLS, then by ALPN to HTTP, the Auth API, a reverse tunnel or a
// database.
asio::awaitable<void> serve_web_connection(std::shared_ptr<ProxyState> state, net::tcp::socket socket);

// proxy_service.tunnel_listen_addr: agents dial in with their host certificates.
asio::awaitable<void> serve_tunnel_connection(std::shared_ptr<ProxyState> state, net::tcp::socket socket);

// Routing (database_session.cc): opens a tunnel stream to an agent serving the client's route,
// failing over between agents. `db_name` receives the route's database for logs.
asio::awaitable<Result<std::unique_ptr<tunnel::MuxStream>>> open_database_stream(ProxyState& state,
                                                                               const PeerCert& peer,
                                                                               const std::string& protocol,
                                                                               std::string initial_data,
                                                                               const std::string& client_addr,
                                                                               std::string& session_id);

// Forwards a PostgreSQL CancelRequest to the agents that may own the key (db_name "" = all).
asio::awaitable<void> forward_cancel(ProxyState& state, pg::CancelRequest request, std::string db_name,
                                     std::string client_addr);

}  // namespace tp::proxy::internal
