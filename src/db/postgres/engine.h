// The PostgreSQL engine (issue 4, DESIGN sections 2 and 6). One coroutine per
// session (serve), which runs steps 1-4 in start() and step 5 in run(), so the
// login's state is gone while the session relays; in the order a reader expects:
//   1. read the client's startup (SSLRequest/GSSENCRequest refused with 'N',
//      CancelRequest handled, StartupMessage kept);
//   2. verify the client certificate and its route against the startup;
//   3. RBAC (labels, db user, db name); denial -> ErrorResponse 28000;
//   4. connect upstream (TLS, StartupMessage, password/MD5/SCRAM login) and
//      forward the server's ParameterStatus/BackendKeyData/ReadyForQuery,
//      with our own cancel key in place of the server's;
//   5. relay until either side closes or the certificate expires.
#pragma once

#include <optional>

#include "db/agent_context.h"
#include "db/engine.h"
#include "db/postgres/cancel_registry.h"

namespace tp::db {

namespace internal {
class SessionDeadline;
}
namespace pg_internal {
struct ClientConn;
}

class PostgresEngine final : public Engine {
 public:
  explicit PostgresEngine(AgentContext& ctx) : ctx_(ctx), cancels_(ctx.rng) {}

  // A pg_cancel dial is ours only when we issued its key.
  Status accept_dial(const tunnel::DialRequest& request) override;
  boost::asio::awaitable<void> serve(tunnel::DialRequest request,
                                     std::unique_ptr<tunnel::MuxStream> client) override;

  CancelRegistry& cancels() { return cancels_; }

 private:
  struct Started;  // engine.cc
  boost::asio::awaitable<void> serve_cancel_dial(const tunnel::DialRequest& request);
  // Steps 1-4; the client has had its answer when it returns nothing.
  boost::asio::awaitable<std::optional<Started>> start(const tunnel::DialRequest& request,
                                                       pg_internal::ClientConn& conn);
  // Step 5, and the session's end.
  boost::asio::awaitable<void> run(Started& started, pg_internal::ClientConn& conn,
                                   internal::SessionDeadline& deadline);

  AgentContext& ctx_;
  CancelRegistry cancels_;
};

}  // namespace tp::db
