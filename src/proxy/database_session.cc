#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "common/log.h"
#include "net/tls.h"
#include "proxy/database_route.h"
#include "proxy/internal/frontends.h"
#include "proxy/internal/streams.h"
#include "tunnel/mux.h"

namespace tp::proxy::internal {

PeerCert ProxyState::verify_peer(SSL* ssl) const {
  return verify_peer_cert(net::peer_cert_pem(ssl), auth.ca_cert_pems(CaType::kUser), auth.ca_cert_pems(CaType::kHost),
                          auth.clock().now());
}

asio::awaitable<Result<std::unique_ptr<tunnel::MuxStream>>> open_database_stream(ProxyState& state,
                                                                               const PeerCert& peer,
                                                                               const std::string& protocol,
                                                                               std::string initial_data,
                                                                               const std::string& client_addr,
                                                                               std::string& session_id) {
  auto user = require_user(peer);
  if (!user.ok()) co_return user.error();
  auto route = route_for_client(*user, protocol);
  if (!route.ok()) co_return route.error();
  auto servers = state.auth.database_servers(route->service_name);
  if (!servers.ok()) co_return servers.error();
  if (servers->empty())
    co_return not_found("database \"" + route->service_name +
                        "\" is not registered: no Database Service announces it; 'tsh db ls' lists databases");
  auto hosts = agents_to_try(*servers, state.tunnel->connected_agents(), state.rng);
  if (hosts.empty()) co_return no_agent_error(route->service_name);

  tunnel::DialRequest request;
  request.kind = tunnel::kDialDatabase;
  request.db_name = route->service_name;
  request.protocol = protocol;
  request.client_cert_pem = peer.pem;
  request.client_addr = client_addr;
  request.session_id = session_id = new_session_id(state.rng);
  request.initial_data = std::move(initial_data);
  std::string failures;
  std::optional<Error> refusal;  // an agent that answered but would not take the session
  for (const auto& host : hosts) {
    auto stream = co_await state.tunnel->dial(host, request);
    if (stream.ok()) {
      log::info("proxy", "database session routed",
                {{"db", route->service_name}, {"user", user->username}, {"db_user", route->username},
                 {"agent", host}, {"session_id", session_id}, {"client", client_addr}});
      co_return std::move(*stream);
    }
    log::warn("proxy", "dialing agent failed, trying the next one",
              {{"db", route->service_name}, {"agent", host}, {"error", stream.error().message}});
    failures += (failures.empty() ? "" : "; ") + host + ": " + stream.error().message;
    if (stream.error().code != ErrorCode::kUnavailable && !refusal) refusal = stream.error();
  }
  if (refusal) co_return Error{refusal->code, "database \"" + route->service_name + "\": " + refusal->message};
  co_return unavailable(no_agent_error(route->service_name).message + " (every agent failed: " + failures + ")");
}

asio::awaitable<void> forward_cancel(ProxyState& state, pg::CancelRequest cancel, std::string db_name,
                                     std::string client_addr) {
  auto servers = state.auth.list_database_servers();
  if (!servers.ok()) {
    log::warn("proxy", "cannot forward CancelRequest", {{"error", servers.error().message}});
    co_return;
  }
  auto hosts = cancel_targets(*servers, state.tunnel->connected_agents(), db_name);
  if (hosts.empty()) log::info("proxy", "CancelRequest dropped: no connected postgres agent", {{"client", client_addr}});
  for (const auto& host : hosts) {
    tunnel::DialRequest request;
    request.kind = tunnel::kDialPostgresCancel;
    request.protocol = "postgres";
    for (const auto& s : *servers)
      if (s.host_id == host && s.database.protocol == "postgres" && (db_name.empty() || s.database.name == db_name))
        request.db_name = s.database.name;
    request.client_addr = client_addr;
    request.session_id = new_session_id(state.rng);
    request.cancel_process_id = static_cast<uint32_t>(cancel.process_id);
    request.cancel_secret_key = static_cast<uint32_t>(cancel.secret_key);
    // Only the agent that issued the key says ok; the others answer not_found.
    auto stream = co_await state.tunnel->dial(host, request);
    if (!stream.ok()) {
      log::debug("proxy", "agent did not take the CancelRequest", {{"agent", host}, {"error", stream.error().message}});
      continue;
    }
    // The agent closes the stream once it has sent the cancel upstream; wait for that briefly.
    std::array<char, 64> ignored;
    co_await read_some_for(**stream, asio::buffer(ignored), std::chrono::seconds(5));
    co_await close_stream(**stream);
    log::debug("proxy", "CancelRequest forwarded", {{"agent", host}, {"client", client_addr}});
    co_return;
  }
  if (!hosts.empty()) log::info("proxy", "no agent recognised the CancelRequest's key", {{"client", client_addr}});
}

}  // namespace tp::proxy::internal
