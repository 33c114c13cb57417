// The PostgreSQL engine (issue 4, DESIGN sections 2 and 6). One coroutine per
// session, in the order a reader expects:
//   1. read the client's startup (SSLRequest/GSSENCRequest refused with 'N',
//      CancelRequest handled, StartupMessage kept);
//   2. verify the client certificate and its route against the startup;
//   3. RBAC (labels, db user, db name); denial -> ErrorResponse 28000;
//   4. connect upstream (TLS, StartupMessage, password/MD5/SCRAM login) and
//      forward the server's ParameterStatus/BackendKeyData/ReadyForQuery,
//      with our own cancel key in place of the server's;
//   5. relay until either side closes or the certificate expires.
#pragma once

#include "db/agent_context.h"
#include "db/engine.h"
#include "db/postgres/cancel_registry.h"

namespace tp::db {

class PostgresEngine final : public Engine {
 public:
  explicit PostgresEngine(AgentContext& ctx) : ctx_(ctx), cancels_(ctx.rng) {}

  // A pg_cancel dial is ours only when we issued its key.
  Status accept_dial(const tunnel::DialRequest& request) override;
  boost::asio::awaitable<void> serve(tunnel::DialRequest request,
                                     std::unique_ptr<net::TlsStream> client) override;

  CancelRegistry& cancels() { return cancels_; }

 private:
  AgentContext& ctx_;
  CancelRegistry cancels_;
};

}  // namespace tp::db
