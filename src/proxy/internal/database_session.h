// One routed database connection: open a tunnel stream to an agent, relay until either side
// closes; or tell the client, in its protocol, why not. Asio heavy: include only from .cc files.
#pragma once

#include "common/log.h"
#include "common/release.h"
#include "proxy/client_errors.h"
#include "proxy/internal/frontends.h"
#include "proxy/internal/streams.h"
#include "tunnel/mux.h"

namespace tp::proxy::internal {

// Releases `peer` once the agent is dialled: the relay does not need the certificate.
template <class Stream>
asio::awaitable<void> route_and_relay(ProxyState& state, Stream& client, PeerCert& peer,
                                      const std::string& protocol, std::string initial_data,
                                      const std::string& client_addr) {
  std::string session_id;
  auto agent = co_await open_database_stream(state, peer, protocol, std::move(initial_data), client_addr, session_id);
  release(peer);
  if (!agent.ok()) {
    log::info("proxy", "database connection refused",
              {{"protocol", protocol}, {"client", client_addr}, {"error", agent.error().message}});
    const std::string refusal = client_error_for_protocol(protocol, agent.error());
    co_await send_and_close(client, refusal);
    co_return;
  }
  co_await relay(client, **agent);
  log::debug("proxy", "database session relay ended", {{"session_id", session_id}, {"client", client_addr}});
  co_await close_stream(**agent);
  co_await close_stream(client);
}

}  // namespace tp::proxy::internal
