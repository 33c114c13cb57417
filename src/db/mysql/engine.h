// The MySQL / MariaDB engine (issue 5, DESIGN sections 2 and 6), for databases with
// `protocol: mysql` (RDS MySQL, Aurora MySQL, RDS MariaDB, self-hosted). One coroutine per
// session (serve), which runs steps 1-4 in start() and step 5 in run(), so the login's state is
// gone while the session relays; in the order a reader expects:
//   1. the client's connection phase: greet it and read its HandshakeResponse41 (TLS routing), or
//      take both from the proxy's native-listener handoff (client_handshake.h);
//   2. verify the client certificate and its route against the response's user and database;
//   3. RBAC (labels, db user, db name); denial -> ERR 1045 (28000) naming the reason;
//   4. connect upstream (TLS, HandshakeResponse41, native / caching_sha2 / clear-text login) and
//      tell the client OK;
//   5. relay until either side closes or the certificate expires, auditing queries and prepared
//      statements and refusing COM_CHANGE_USER and disallowed COM_INIT_DB.
#pragma once

#include <optional>

#include "db/agent_context.h"
#include "db/engine.h"

namespace tp::db {

namespace internal {
class SessionDeadline;
}

class MysqlEngine final : public Engine {
 public:
  explicit MysqlEngine(AgentContext& ctx) : ctx_(ctx) {}

  boost::asio::awaitable<void> serve(tunnel::DialRequest request,
                                     std::unique_ptr<tunnel::MuxStream> client) override;

 private:
  struct Started;  // engine.cc
  // The connection phase, the checks and the upstream login; the client has had its answer when it
  // returns nothing.
  boost::asio::awaitable<std::optional<Started>> start(tunnel::DialRequest& request,
                                                       tunnel::MuxStream& client);
  // The relay and the session's end.
  boost::asio::awaitable<void> run(Started& started, tunnel::MuxStream& client,
                                   internal::SessionDeadline& deadline);

  AgentContext& ctx_;
};

}  // namespace tp::db
